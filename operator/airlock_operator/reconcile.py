"""Everything the operator should make true, computed from a World in one pure pass:
the status of every object we handle and, per Gateway, the engine configuration and the
sidecar's policy documents.

The handlers apply the result; computing all of it at once (rather than per event) keeps
cross-object rules - attachment, ReferenceGrants, policy conflicts - consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airlock_operator.conditions import Condition, merge
from airlock_operator.engine_config import EngineResources, build_engine_resources
from airlock_operator.gateways import GatewayState, gateway_classes, gateways
from airlock_operator.policies import content_security
from airlock_operator.routes import http_routes
from airlock_operator.settings import CONTROLLER_NAME, node_id
from airlock_operator.workloads import workload_name
from airlock_operator.world import World, generation, key_of, spec

ObjectRef = tuple[str, str, str]  # (kind, namespace, name)


@dataclass
class Engine:
    gateway: GatewayState
    resources: EngineResources
    documents: list[dict[str, Any]]


@dataclass
class Outcome:
    statuses: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict)
    engines: dict[str, Engine] = field(default_factory=dict)  # by node id


def _addresses(world: World, gateway: GatewayState) -> list[dict[str, str]]:
    service = world.get("Service", gateway.namespace, workload_name(gateway.name))
    if service is None:
        return []
    addresses = []
    for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if ingress.get("ip"):
            addresses.append({"type": "IPAddress", "value": ingress["ip"]})
        elif ingress.get("hostname"):
            addresses.append({"type": "Hostname", "value": ingress["hostname"]})
    cluster_ip = spec(service).get("clusterIP")
    if not addresses and cluster_ip and cluster_ip != "None":
        addresses.append({"type": "IPAddress", "value": cluster_ip})
    return addresses


def _gateway_status(
    world: World, gateway: GatewayState, programmed: bool, now: str
) -> dict[str, Any]:
    obj = gateway.obj
    gen = generation(obj)
    previous = obj.get("status") or {}
    addresses = _addresses(world, gateway)
    if not gateway.is_accepted:
        program = Condition("Programmed", False, "Invalid", "The Gateway is not accepted.")
    elif not addresses:
        program = Condition(
            "Programmed", False, "AddressNotAssigned", "The Gateway's Service has no address yet."
        )
    elif not programmed:
        program = Condition(
            "Programmed", False, "Pending", "Waiting for an engine to take the configuration."
        )
    else:
        program = Condition("Programmed", True, "Programmed", "The engines run this configuration.")
    previous_listeners = {item.get("name"): item for item in previous.get("listeners") or []}
    return {
        "addresses": addresses,
        "conditions": merge(previous.get("conditions"), [gateway.accepted, program], gen, now),
        "listeners": [
            {
                "name": listener.name,
                "supportedKinds": listener.supported_kinds,
                "attachedRoutes": listener.attached_routes,
                "conditions": merge(
                    (previous_listeners.get(listener.name) or {}).get("conditions"),
                    listener.conditions(),
                    gen,
                    now,
                ),
            }
            for listener in gateway.listeners
        ],
    }


def _same_ref(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("group", "kind", "namespace", "name", "sectionName", "port")
    return all(a.get(k) == b.get(k) for k in keys)


def _others(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Status entries other controllers wrote: kept as they are."""
    return [item for item in items or [] if item.get("controllerName") != CONTROLLER_NAME]


def compute(world: World, programmed: Callable[[str], bool], now: str) -> Outcome:
    """`programmed(node_id)`: whether an engine of that Gateway has taken its latest
    configuration (known to the xDS server, not the World)."""
    outcome = Outcome()
    classes = gateway_classes(world)
    for name, state in classes.items():
        previous = (state.obj.get("status") or {}).get("conditions")
        outcome.statuses[("GatewayClass", "", name)] = {
            "conditions": merge(previous, state.conditions, generation(state.obj), now)
        }
    gateway_states = gateways(world, classes)
    routes, clusters = http_routes(world, gateway_states)
    policies = content_security(world, gateway_states, routes)

    for key, gateway in gateway_states.items():
        node = node_id(*key)
        resources = build_engine_resources(gateway, routes, clusters, policies.protection)
        outcome.engines[node] = Engine(gateway, resources, policies.documents.get(key, []))
        outcome.statuses[("Gateway", *key)] = _gateway_status(
            world, gateway, gateway.is_accepted and programmed(node), now
        )

    for key, route in routes.items():
        previous = (route.obj.get("status") or {}).get("parents") or []
        gen = generation(route.obj)
        parents = []
        for parent in route.parents:
            ref = {
                "group": parent.ref.get("group", "gateway.networking.k8s.io"),
                "kind": parent.ref.get("kind", "Gateway"),
                **{k: v for k, v in parent.ref.items() if k not in ("group", "kind")},
            }
            before: dict[str, Any] = next(
                (
                    p
                    for p in previous
                    if p.get("controllerName") == CONTROLLER_NAME
                    and _same_ref(p.get("parentRef") or {}, ref)
                ),
                {},
            )
            parents.append(
                {
                    "parentRef": ref,
                    "controllerName": CONTROLLER_NAME,
                    "conditions": merge(
                        before.get("conditions"), [parent.accepted, parent.resolved], gen, now
                    ),
                }
            )
        outcome.statuses[("HTTPRoute", *key)] = {"parents": _others(previous) + parents}

    for route_obj in world.all("HTTPRoute"):
        route_ref: ObjectRef = ("HTTPRoute", *key_of(route_obj))
        previous = (route_obj.get("status") or {}).get("parents") or []
        if route_ref not in outcome.statuses and len(_others(previous)) < len(previous):
            # No parent of ours any more (Gateway deleted, parentRef removed): our entries go.
            outcome.statuses[route_ref] = {"parents": _others(previous)}

    for csp in world.all("ContentSecurityPolicy"):
        ns, name = csp["metadata"]["namespace"], csp["metadata"]["name"]
        previous = (csp.get("status") or {}).get("ancestors") or []
        gen = generation(csp)
        ancestors = []
        for ancestor_ref, condition in policies.ancestors.get((ns, name), []):
            earlier: dict[str, Any] = next(
                (
                    a
                    for a in previous
                    if a.get("controllerName") == CONTROLLER_NAME
                    and _same_ref(a.get("ancestorRef") or {}, ancestor_ref)
                ),
                {},
            )
            ancestors.append(
                {
                    "ancestorRef": ancestor_ref,
                    "controllerName": CONTROLLER_NAME,
                    "conditions": merge(earlier.get("conditions"), [condition], gen, now),
                }
            )
        outcome.statuses[("ContentSecurityPolicy", ns, name)] = {
            "ancestors": (_others(previous) + ancestors)[:16]
        }
    return outcome
