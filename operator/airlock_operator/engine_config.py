"""The Envoy configuration of one Gateway's engines, as JSON-ready dicts for xDS.

One Envoy listener per Gateway port (HTTPS listeners become TLS filter chains chosen by SNI),
one route configuration per port (RDS, so route changes never drain a listener), one cluster
per backend Service port with its endpoints inline. The HTTP filters and the per-route
protection come from the local gateway's builders (airlock_microgateway.envoy_config), so both
serve the same filter chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airlock_microgateway.envoy_config import build_http_connection_manager
from airlock_microgateway.processor import BUFFER_LIMIT
from airlock_operator.gateways import GatewayState, ListenerState
from airlock_operator.policies import Protection, default_protection
from airlock_operator.routes import Backend, BackendCluster, RouteEntry, RouteState

_T = "type.googleapis.com/"
INVALID_BACKEND = "airlock_invalid_backend"  # no such cluster: Envoy answers 500
DEFAULT_TIMEOUT = "60s"
_REDIRECT_CODES = {
    301: "MOVED_PERMANENTLY",
    302: "FOUND",
    303: "SEE_OTHER",
    307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}


@dataclass
class EngineResources:
    listeners: list[dict[str, Any]] = field(default_factory=list)
    route_configs: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)


def listener_name(port: int) -> str:
    return f"listener-{port}"


def route_config_name(port: int) -> str:
    return f"routes-{port}"


def _header_options(modifier: dict[str, Any]) -> list[dict[str, Any]]:
    options = [
        {"header": {"key": h["name"], "value": h["value"]}, "append_action": action}
        for key, action in (
            ("set", "OVERWRITE_IF_EXISTS_OR_ADD"),
            ("add", "APPEND_IF_EXISTS_OR_ADD"),
        )
        for h in modifier.get(key) or []
    ]
    return options


def _match(match: dict[str, Any]) -> dict[str, Any]:
    path = match.get("path") or {"type": "PathPrefix", "value": "/"}
    value = str(path.get("value", "/"))
    result: dict[str, Any]
    if path.get("type") == "Exact":
        result = {"path": value}
    elif path.get("type") == "RegularExpression":
        result = {"safe_regex": {"regex": value}}
    else:
        # Gateway API prefixes match whole path segments; a trailing slash does not matter.
        trimmed = value.rstrip("/")
        result = {"path_separated_prefix": trimmed} if trimmed else {"prefix": "/"}
    headers = [
        {
            "name": h["name"],
            "string_match": {"safe_regex": {"regex": h["value"]}}
            if h.get("type") == "RegularExpression"
            else {"exact": h["value"]},
        }
        for h in match.get("headers") or []
    ]
    if match.get("method"):
        headers.append({"name": ":method", "string_match": {"exact": match["method"]}})
    if headers:
        result["headers"] = headers
    queries = [
        {
            "name": q["name"],
            "string_match": {"safe_regex": {"regex": q["value"]}}
            if q.get("type") == "RegularExpression"
            else {"exact": q["value"]},
        }
        for q in match.get("queryParams") or []
    ]
    if queries:
        result["query_parameters"] = queries
    return result


def _path_rewrite(path: dict[str, Any], match: dict[str, Any]) -> dict[str, Any]:
    if path.get("type") == "ReplaceFullPath":
        return {
            "regex_rewrite": {"pattern": {"regex": "^.*$"}, "substitution": path["replaceFullPath"]}
        }
    prefix = str(((match.get("path") or {}).get("value")) or "/").rstrip("/")
    replacement = str(path.get("replacePrefixMatch", "/"))
    if replacement.rstrip("/") == "":
        # "/" in place of "/foo": /foo/bar -> /bar and /foo -> / (a plain prefix rewrite
        # would make //bar).
        return {
            "regex_rewrite": {
                "pattern": {"regex": f"^{re.escape(prefix)}/*"},
                "substitution": "/",
            }
        }
    return {"prefix_rewrite": replacement}


def _action(entry: RouteEntry) -> dict[str, Any]:
    filters = {f["type"]: f for f in entry.filters}
    redirect = (filters.get("RequestRedirect") or {}).get("requestRedirect")
    if redirect is not None:
        fields: dict[str, Any] = {
            "response_code": _REDIRECT_CODES.get(int(redirect.get("statusCode", 302)), "FOUND")
        }
        if redirect.get("scheme"):
            fields["scheme_redirect"] = redirect["scheme"]
        if redirect.get("hostname"):
            fields["host_redirect"] = redirect["hostname"]
        if redirect.get("port"):
            fields["port_redirect"] = int(redirect["port"])
        path = redirect.get("path") or {}
        if path.get("type") == "ReplaceFullPath":
            fields["path_redirect"] = path["replaceFullPath"]
        elif path.get("type") == "ReplacePrefixMatch":
            fields["prefix_rewrite"] = path["replacePrefixMatch"]
        return {"redirect": fields}
    backends = [b for b in entry.backends if b.weight > 0]
    if not backends or all(b.cluster is None for b in backends):
        # No usable backend: the Gateway API asks for a 500.
        return {"direct_response": {"status": 500}}
    route: dict[str, Any] = {
        "timeout": _duration(entry.timeout) if entry.timeout else DEFAULT_TIMEOUT,
        "cluster_not_found_response_code": "INTERNAL_SERVER_ERROR",
    }
    if len(backends) == 1:
        route["cluster"] = backends[0].cluster or INVALID_BACKEND
    else:
        route["weighted_clusters"] = {"clusters": [_weighted(b) for b in backends]}
    rewrite = (filters.get("URLRewrite") or {}).get("urlRewrite") or {}
    if rewrite.get("hostname"):
        route["host_rewrite_literal"] = rewrite["hostname"]
    if rewrite.get("path"):
        route.update(_path_rewrite(rewrite["path"], entry.match))
    return {"route": route}


def _weighted(backend: Backend) -> dict[str, Any]:
    return {"name": backend.cluster or INVALID_BACKEND, "weight": backend.weight}


def _duration(text: str) -> str:
    """A Gateway API duration (`1h2m3s`, `500ms`) as Envoy's seconds."""
    total = 0.0
    for number, unit in re.findall(r"(\d+)(h|ms|m|s)", text):
        total += int(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return f"{total:g}s"


def build_route(entry: RouteEntry, protection: Protection, index: int) -> dict[str, Any]:
    protect = dict(protection.route_fields())  # shared by the policy's routes: popped below
    route: dict[str, Any] = {
        "name": f"{entry.route[0]}/{entry.route[1]}/rule-{entry.rule}/match-{entry.match_index}",
        "match": _match(entry.match),
        **_action(entry),
        "typed_per_filter_config": protect.pop("typed_per_filter_config"),
    }
    filters = {f["type"]: f for f in entry.filters}
    request = (filters.get("RequestHeaderModifier") or {}).get("requestHeaderModifier") or {}
    response = (filters.get("ResponseHeaderModifier") or {}).get("responseHeaderModifier") or {}
    # The route's own header changes first, then the policy's rewrites (which may remove
    # what a route adds, as they would for the application's own headers).
    added = {
        "request_headers_to_add": _header_options(request),
        "request_headers_to_remove": list(request.get("remove") or []),
        "response_headers_to_add": _header_options(response),
        "response_headers_to_remove": list(response.get("remove") or []),
    }
    for key, values in added.items():
        merged = values + list(protect.pop(key, []))
        if merged:
            route[key] = merged
    route.update(protect)
    return route


def _virtual_hosts(
    entries: list[RouteEntry], protection: dict[tuple[str, str], Protection], fallback: Protection
) -> list[dict[str, Any]]:
    by_host: dict[str, list[RouteEntry]] = {}
    for entry in entries:
        for hostname in entry.hostnames:
            by_host.setdefault(hostname, []).append(entry)
    hosts = []
    for hostname in sorted(by_host, key=lambda h: (h == "*", h)):
        ordered = sorted(by_host[hostname], key=RouteEntry.sort_key)
        hosts.append(
            {
                "name": hostname,
                "domains": [hostname],
                "routes": [
                    build_route(e, protection.get(e.route, fallback), i)
                    for i, e in enumerate(ordered)
                ],
            }
        )
    return hosts


def _filter_chain(
    listener: ListenerState, port: int, remote_ip: dict[str, Any] | None
) -> dict[str, Any]:
    manager = build_http_connection_manager(
        {
            "rds": {
                "route_config_name": route_config_name(port),
                "config_source": {"ads": {}, "resource_api_version": "V3"},
            }
        },
        remote_ip,
    )
    chain: dict[str, Any] = {
        "name": listener.name,
        "filters": [
            {"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}
        ],
    }
    if listener.protocol == "HTTPS":
        if listener.hostname:
            chain["filter_chain_match"] = {"server_names": [listener.hostname]}
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": _T + "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "common_tls_context": {
                    "tls_certificates": [
                        {
                            "certificate_chain": {"inline_string": c.cert_pem},
                            "private_key": {"inline_string": c.key_pem},
                        }
                        for c in listener.certificates
                    ],
                    "alpn_protocols": ["h2", "http/1.1"],
                },
            },
        }
    return chain


def _listener_filters(remote_ip: dict[str, Any] | None, tls: bool) -> list[dict[str, Any]]:
    filters = []
    proxy = (remote_ip or {}).get("proxyProtocol")
    if proxy is not None:
        # First: the PROXY header precedes the TLS handshake. The client address becomes the
        # header's source; a connection without the header is refused.
        config: dict[str, Any] = {
            "@type": _T + "envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"
        }
        if proxy.get("version"):
            config["disallowed_versions"] = [v for v in ("V1", "V2") if v != proxy["version"]]
        filters.append({"name": "envoy.filters.listener.proxy_protocol", "typed_config": config})
    if tls:
        filters.append(
            {
                "name": "envoy.filters.listener.tls_inspector",
                "typed_config": {
                    "@type": _T + "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
                },
            }
        )
    return filters


def build_cluster(cluster: BackendCluster) -> dict[str, Any]:
    if cluster.dns_name:
        address = {"socket_address": {"address": cluster.dns_name, "port_value": cluster.dns_port}}
        endpoints = [{"endpoint": {"address": address}}]
        kind = "STRICT_DNS"
    else:
        endpoints = [
            {
                "endpoint": {
                    "address": {"socket_address": {"address": e.address, "port_value": e.port}}
                }
            }
            for e in cluster.endpoints
        ]
        kind = "STATIC"
    return {
        "name": cluster.name,
        "type": kind,
        "connect_timeout": "2s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": cluster.name,
            "endpoints": [{"lb_endpoints": endpoints}],
        },
    }


def build_engine_resources(
    gateway: GatewayState,
    routes: dict[tuple[str, str], RouteState],
    clusters: dict[str, BackendCluster],
    protection: dict[tuple[str, str], Protection],
) -> EngineResources:
    resources = EngineResources()
    key = (gateway.namespace, gateway.name)
    if not gateway.is_accepted:
        return resources
    fallback = default_protection(gateway)
    downstream = (gateway.parameters.filled.get("defaults") or {}).get("downstream") or {}
    remote_ip = downstream.get("remoteIP")
    by_port: dict[int, list[ListenerState]] = {}
    for listener in gateway.listeners:
        if listener.usable:
            by_port.setdefault(listener.port, []).append(listener)
    used: set[str] = set()
    for port, listeners in sorted(by_port.items()):
        entries = [
            entry
            for state in routes.values()
            for listener in listeners
            for entry in state.entries.get(key, {}).get(listener.name, [])
        ]
        used.update(b.cluster for e in entries for b in e.backends if b.cluster)
        listener_config: dict[str, Any] = {
            "name": listener_name(port),
            "address": {"socket_address": {"address": "0.0.0.0", "port_value": port}},
            "per_connection_buffer_limit_bytes": BUFFER_LIMIT,
            "filter_chains": [_filter_chain(listener, port, remote_ip) for listener in listeners],
        }
        listener_filters = _listener_filters(remote_ip, listeners[0].protocol == "HTTPS")
        if listener_filters:
            listener_config["listener_filters"] = listener_filters
        resources.listeners.append(listener_config)
        resources.route_configs.append(
            {
                "name": route_config_name(port),
                "virtual_hosts": _virtual_hosts(entries, protection, fallback),
            }
        )
    resources.clusters = [
        build_cluster(clusters[name]) for name in sorted(used) if name in clusters
    ]
    return resources
