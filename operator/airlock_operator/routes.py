"""HTTPRoutes: which listeners they attach to, whether their backends resolve, and the route
entries an engine serves for them. Pure; reasons as the Gateway API specification defines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airlock_operator.conditions import Condition
from airlock_operator.gateways import GatewayState, ListenerState, namespace_allowed
from airlock_operator.refs import (
    GATEWAY_GROUP,
    intersect_hostnames,
    ref_group,
    ref_kind,
    reference_granted,
)
from airlock_operator.world import World, meta, name_of, namespace_of, spec

SUPPORTED_FILTERS = (
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestRedirect",
    "URLRewrite",
)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int


@dataclass(frozen=True)
class BackendCluster:
    name: str
    endpoints: tuple[Endpoint, ...] = ()
    dns_name: str | None = None  # ExternalName Services
    dns_port: int = 0


@dataclass
class Backend:
    cluster: str | None  # None: unresolved, requests to it get a 500
    weight: int


@dataclass
class RouteEntry:
    route: tuple[str, str]
    rule: int
    match_index: int
    hostnames: list[str]
    match: dict[str, Any]
    filters: list[dict[str, Any]]
    backends: list[Backend]
    timeout: str | None
    created: str

    def sort_key(self) -> tuple[Any, ...]:
        """Gateway API precedence: exact paths, then longer prefixes, then method, more
        header matches, more query matches, older routes, name, rule order."""
        path = self.match.get("path") or {"type": "PathPrefix", "value": "/"}
        rank = {"Exact": 0, "RegularExpression": 1}.get(path.get("type", "PathPrefix"), 2)
        return (
            rank,
            -len(path.get("value", "/")),
            0 if self.match.get("method") else 1,
            -len(self.match.get("headers") or []),
            -len(self.match.get("queryParams") or []),
            self.created,
            self.route,
            self.rule,
            self.match_index,
        )


@dataclass
class ParentStatus:
    ref: dict[str, Any]
    accepted: Condition
    resolved: Condition


@dataclass
class RouteState:
    obj: dict[str, Any]
    parents: list[ParentStatus] = field(default_factory=list)
    # gateway key -> listener name -> entries
    entries: dict[tuple[str, str], dict[str, list[RouteEntry]]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (namespace_of(self.obj), name_of(self.obj))


def cluster_name(namespace: str, service: str, port: int) -> str:
    return f"{namespace}/{service}/{port}"


def _unsupported(route: dict[str, Any], regex_allowed: bool) -> str | None:
    """Why the route uses something we do not support, or None."""
    for i, rule in enumerate(spec(route).get("rules") or []):
        for f in rule.get("filters") or []:
            if f.get("type") not in SUPPORTED_FILTERS:
                return f"rules[{i}]: filter {f.get('type')} is not supported"
        for b in rule.get("backendRefs") or []:
            if b.get("filters"):
                return f"rules[{i}]: filters on backendRefs are not supported"
        for m in rule.get("matches") or []:
            path = m.get("path") or {}
            if path.get("type") == "RegularExpression" and not regex_allowed:
                return (
                    f"rules[{i}]: RegularExpression path matches are off "
                    "(GatewayParameters features.httpRouteRegexPathMatchEnabled)"
                )
    return None


Slices = dict[tuple[str, str], list[dict[str, Any]]]  # (namespace, service) -> EndpointSlices


def _slices_by_service(world: World) -> Slices:
    """EndpointSlices by the Service they belong to: looked up once per backend of every route,
    while a cluster holds a slice for every Service it has."""
    slices: Slices = {}
    for slice_ in world.all("EndpointSlice"):
        service = (meta(slice_).get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service is not None:
            slices.setdefault((namespace_of(slice_), str(service)), []).append(slice_)
    return slices


def _resolve_backends(
    world: World, slices: Slices, route: dict[str, Any], external_names: bool
) -> tuple[dict[tuple[int, int], Backend], dict[str, BackendCluster], Condition]:
    """Backends by (rule, index), the clusters they need, and ResolvedRefs."""
    namespace = namespace_of(route)
    backends: dict[tuple[int, int], Backend] = {}
    clusters: dict[str, BackendCluster] = {}
    problem: Condition | None = None
    for i, rule in enumerate(spec(route).get("rules") or []):
        for j, ref in enumerate(rule.get("backendRefs") or []):
            weight = int(ref.get("weight", 1))
            target_ns = ref.get("namespace") or namespace
            name = str(ref.get("name", ""))
            port = ref.get("port")
            failure: Condition | None = None
            if ref_group(ref, "") != "" or ref_kind(ref, "Service") != "Service":
                failure = Condition(
                    "ResolvedRefs",
                    False,
                    "InvalidKind",
                    f"backendRef {name}: only core Services are supported",
                )
            elif not reference_granted(
                world, GATEWAY_GROUP, "HTTPRoute", namespace, "", "Service", target_ns, name
            ):
                failure = Condition(
                    "ResolvedRefs",
                    False,
                    "RefNotPermitted",
                    f"Service {target_ns}/{name} is in another namespace and no ReferenceGrant "
                    "allows it",
                )
            else:
                service = world.get("Service", target_ns, name)
                cluster, why = _service_cluster(
                    slices, service, target_ns, name, port, external_names
                )
                if cluster is None:
                    failure = Condition("ResolvedRefs", False, "BackendNotFound", why)
                else:
                    clusters[cluster.name] = cluster
                    backends[(i, j)] = Backend(cluster.name, weight)
            if failure is not None:
                backends[(i, j)] = Backend(None, weight)
                problem = problem or failure
    return (
        backends,
        clusters,
        problem or Condition("ResolvedRefs", True, "ResolvedRefs", "All references resolved."),
    )


def _service_cluster(
    slices: Slices,
    service: dict[str, Any] | None,
    namespace: str,
    name: str,
    port: Any,
    external_names: bool,
) -> tuple[BackendCluster | None, str]:
    if service is None:
        return None, f"Service {namespace}/{name} not found"
    if port is None:
        return None, f"backendRef to Service {namespace}/{name} needs a port"
    service_spec = spec(service)
    service_port = next(
        (p for p in service_spec.get("ports") or [] if int(p.get("port", 0)) == int(port)), None
    )
    if service_spec.get("type") == "ExternalName":
        if not external_names:
            return None, (
                f"Service {namespace}/{name} is of type ExternalName, which is off "
                "(GatewayParameters features.externalNameServicesAllowed)"
            )
        return BackendCluster(
            cluster_name(namespace, name, int(port)),
            dns_name=str(service_spec.get("externalName", "")),
            dns_port=int(port),
        ), ""
    if service_port is None:
        return None, f"Service {namespace}/{name} has no port {port}"
    port_name = service_port.get("name") or ""
    endpoints = []
    for slice_ in slices.get((namespace, name), []):
        if slice_.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
            continue
        numbers = [
            p.get("port") for p in slice_.get("ports") or [] if (p.get("name") or "") == port_name
        ]
        if not numbers or numbers[0] is None:
            continue
        for endpoint in slice_.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                endpoints.append(Endpoint(str(address), int(numbers[0])))
    return BackendCluster(
        cluster_name(namespace, name, int(port)), tuple(sorted(set(endpoints), key=str))
    ), ""


def _parent_listeners(
    world: World, gateway: GatewayState, ref: dict[str, Any], route: dict[str, Any]
) -> tuple[list[tuple[ListenerState, list[str]]], Condition]:
    """The listeners a parentRef attaches the route to, with the hostnames it serves there."""
    section = ref.get("sectionName")
    port = ref.get("port")
    candidates = [
        listener
        for listener in gateway.listeners
        if (section is None or listener.name == section)
        and (port is None or listener.port == int(port))
    ]
    if not candidates:
        return [], Condition(
            "Accepted", False, "NoMatchingParent", "No listener matches sectionName / port."
        )
    allowed = [
        listener
        for listener in candidates
        if listener.usable
        and listener.supported_kinds
        and namespace_allowed(world, listener, gateway.namespace, namespace_of(route))
    ]
    if not allowed:
        return [], Condition(
            "Accepted",
            False,
            "NotAllowedByListeners",
            "No listener allows this route (allowedRoutes, or the listener is not valid).",
        )
    hostnames = [str(h) for h in spec(route).get("hostnames") or []]
    attached = [
        (listener, names)
        for listener in allowed
        if (names := intersect_hostnames(listener.hostname, hostnames))
    ]
    if not attached:
        return [], Condition(
            "Accepted",
            False,
            "NoMatchingListenerHostname",
            "No listener hostname matches the route's hostnames.",
        )
    return attached, Condition("Accepted", True, "Accepted", "The route is attached.")


def _entries(
    route: dict[str, Any], hostnames: list[str], backends: dict[tuple[int, int], Backend]
) -> list[RouteEntry]:
    entries = []
    key = (namespace_of(route), name_of(route))
    created = str(meta(route).get("creationTimestamp", ""))
    for i, rule in enumerate(spec(route).get("rules") or []):
        matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
        rule_backends = [backends[(i, j)] for j in range(len(rule.get("backendRefs") or []))]
        timeout = (rule.get("timeouts") or {}).get("request")
        for m, match in enumerate(matches):
            entries.append(
                RouteEntry(
                    key,
                    i,
                    m,
                    hostnames,
                    match,
                    list(rule.get("filters") or []),
                    rule_backends,
                    timeout,
                    created,
                )
            )
    return entries


def _parent_gateway(
    ref: dict[str, Any], route_namespace: str, gateways: dict[tuple[str, str], GatewayState]
) -> GatewayState | None:
    if ref_group(ref, GATEWAY_GROUP) != GATEWAY_GROUP or ref_kind(ref, "Gateway") != "Gateway":
        return None
    return gateways.get((ref.get("namespace") or route_namespace, str(ref.get("name", ""))))


def http_routes(
    world: World, gateways: dict[tuple[str, str], GatewayState]
) -> tuple[dict[tuple[str, str], RouteState], dict[str, BackendCluster]]:
    """Every HTTPRoute with a parent of ours: its parent statuses and entries; the clusters."""
    states = {}
    clusters: dict[str, BackendCluster] = {}
    slices = _slices_by_service(world)
    # Per Gateway, not per route: without parameters, `filled` loads the defaults each time.
    features = {
        key: gateway.parameters.filled.get("features") or {} for key, gateway in gateways.items()
    }
    for route in world.all("HTTPRoute"):
        state = RouteState(route)
        namespace = namespace_of(route)
        for ref in spec(route).get("parentRefs") or []:
            gateway = _parent_gateway(ref, namespace, gateways)
            if gateway is None:
                continue
            allowed = features[(gateway.namespace, gateway.name)]
            backends, needed, resolved = _resolve_backends(
                world, slices, route, bool(allowed.get("externalNameServicesAllowed"))
            )
            unsupported = _unsupported(route, bool(allowed.get("httpRouteRegexPathMatchEnabled")))
            attached: list[tuple[ListenerState, list[str]]] = []
            if not gateway.is_accepted:
                accepted = Condition(
                    "Accepted", False, "NoMatchingParent", "The parent Gateway is not accepted."
                )
            elif unsupported:
                accepted = Condition("Accepted", False, "UnsupportedValue", unsupported)
            else:
                attached, accepted = _parent_listeners(world, gateway, ref, route)
            for listener, hostnames in attached:
                listener.attached_routes += 1
                by_listener = state.entries.setdefault((gateway.namespace, gateway.name), {})
                by_listener.setdefault(listener.name, []).extend(
                    _entries(route, hostnames, backends)
                )
            if attached:
                clusters.update(needed)
            state.parents.append(ParentStatus(ref, accepted, resolved))
        if state.parents:
            states[state.key] = state
    return states, clusters
