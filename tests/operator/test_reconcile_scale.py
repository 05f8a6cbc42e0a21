"""What keeps a reconcile pass cheap with many routes and policies (bench/operator_scale.py),
and that the shortcuts change no result: unchanged policies are not loaded again, routes of one
policy share its Envoy fields without sharing each other's changes, and a route's endpoints
come from its own Service's EndpointSlices only."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from world_builders import (
    condition,
    endpoint_slice,
    gateway,
    gateway_class,
    policy,
    route,
    service,
    world_of,
)

from airlock_operator import policies
from airlock_operator.reconcile import compute
from airlock_operator.world import World

NOW = "2026-11-26T00:00:00Z"
ALL_NAMESPACES = [
    {
        "name": "http",
        "port": 8080,
        "protocol": "HTTP",
        "allowedRoutes": {"namespaces": {"from": "All"}},
    }
]


def run(world: World) -> Any:
    return compute(world, lambda node: True, NOW)


def routes_by_name(outcome: Any) -> dict[str, dict[str, Any]]:
    (config,) = outcome.engines["apps/gw"].resources.route_configs
    return {r["name"]: r for host in config["virtual_hosts"] for r in host["routes"]}


def csp(name: str, *targets: str, **secured: Any) -> dict[str, Any]:
    refs = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": t} for t in targets]
    return policy("ContentSecurityPolicy", name, targetRefs=refs, secured=secured)


def deny_rules(level: str) -> dict[str, Any]:
    return policy("DenyRules", "rules", request={"builtIn": {"settings": {"level": level}}})


def many_policies(count: int) -> World:
    world = world_of(gateway_class(), gateway(), service(), endpoint_slice(), deny_rules("Strict"))
    for i in range(count):
        world.put("HTTPRoute", route(f"web-{i}", hostnames=[f"app-{i}.example"]))
        world.put("ContentSecurityPolicy", csp(f"shop-{i}", f"web-{i}", filter=_rules_ref()))
    return world


def _rules_ref() -> dict[str, Any]:
    return {"denyRulesRef": {"name": "rules"}}


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources of every policy load from now on."""
    seen: list[str] = []
    real = policies.load_policy_documents

    def counting(documents: Any) -> Any:
        documents = list(documents)
        seen.append(documents[0][0])
        return real(documents)

    monkeypatch.setattr(policies, "load_policy_documents", counting)
    monkeypatch.setattr(policies, "_loads", {})  # nothing kept from other tests' passes
    return seen


def test_unchanged_policies_are_loaded_once(loads: list[str]) -> None:
    world = many_policies(20)
    first = run(world)
    assert len(loads) == 20
    second = run(world)
    assert len(loads) == 20  # the second pass reused every load
    assert second.engines["apps/gw"].documents == first.engines["apps/gw"].documents
    assert routes_by_name(second) == routes_by_name(first)
    assert second.statuses == first.statuses


def test_a_changed_policy_or_resource_is_loaded_again(loads: list[str]) -> None:
    world = many_policies(3)
    run(world)
    assert len(loads) == 3

    world.put("DenyRules", deny_rules("Basic"))  # all three read it
    outcome = run(world)
    assert len(loads) == 6
    (rules,) = [d for d in outcome.engines["apps/gw"].documents if d["kind"] == "DenyRules"]
    assert rules["spec"]["request"]["builtIn"]["settings"]["level"] == "Basic"

    unsecured = csp("shop-1", "web-1")
    del unsecured["spec"]["secured"]
    unsecured["spec"]["unsecured"] = {}
    world.put("ContentSecurityPolicy", unsecured)
    outcome = run(world)
    assert len(loads) == 7
    ext_proc = routes_by_name(outcome)["apps/web-1/rule-0/match-0"]["typed_per_filter_config"]
    assert ext_proc["envoy.filters.http.ext_proc"]["disabled"]

    world.remove("DenyRules", ("apps", "rules"))
    outcome = run(world)
    (ancestor,) = outcome.statuses[("ContentSecurityPolicy", "apps", "shop-0")]["ancestors"]
    accepted = condition(ancestor["conditions"], "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert "DenyRules apps/rules not found" in accepted["message"]

    world.put("DenyRules", deny_rules("Basic"))  # as it was two passes ago: loaded again
    outcome = run(world)
    (ancestor,) = outcome.statuses[("ContentSecurityPolicy", "apps", "shop-0")]["ancestors"]
    assert condition(ancestor["conditions"], "Accepted")["status"] == "True"


def test_routes_of_one_policy_do_not_share_their_own_header_changes() -> None:
    modifier = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"add": [{"name": "x-only-a", "value": "1"}], "remove": ["x-r"]},
    }
    rules_a = [{"filters": [modifier], "backendRefs": [{"name": "backend", "port": 80}]}]
    world = world_of(
        gateway_class(),
        gateway(),
        service(),
        endpoint_slice(),
        route("a", hostnames=["a.example"], rules=rules_a),
        route("b", hostnames=["b.example"]),
        csp("shop", "a", "b"),  # built-in DenyRules and HeaderRewrites
    )
    first = routes_by_name(run(world))
    a, b = first["apps/a/rule-0/match-0"], first["apps/b/rule-0/match-0"]
    added_a = [h["header"]["key"] for h in a["request_headers_to_add"]]
    assert "x-only-a" in added_a
    assert "x-only-a" not in [h["header"]["key"] for h in b.get("request_headers_to_add", [])]
    assert "x-r" in a["request_headers_to_remove"]
    assert "x-r" not in b.get("request_headers_to_remove", [])
    # The policy's own part is the same for both.
    assert a["typed_per_filter_config"] == b["typed_per_filter_config"]
    snapshot = copy.deepcopy(first)
    assert routes_by_name(run(world)) == snapshot  # building changed nothing shared


def test_endpoints_come_from_the_services_own_slices() -> None:
    world = world_of(gateway_class(), gateway(listeners=ALL_NAMESPACES))
    for ns, address in (("apps", "10.1.0.1"), ("shop", "10.2.0.1")):
        world.put("HTTPRoute", route(namespace=ns, hostnames=[f"{ns}.example"]))
        world.put("Service", service(namespace=ns))
        world.put("EndpointSlice", endpoint_slice(namespace=ns, addresses=(address,)))
    # Neither another Service's slice nor a slice without a Service counts.
    world.put("EndpointSlice", endpoint_slice("other", "apps", addresses=("10.9.0.1",)))
    stray = endpoint_slice("backend", "apps", addresses=("10.9.0.2",))
    stray["metadata"] = {"name": "stray", "namespace": "apps"}
    world.put("EndpointSlice", stray)
    clusters = {c["name"]: c for c in run(world).engines["apps/gw"].resources.clusters}
    endpoints = {
        name: [
            e["endpoint"]["address"]["socket_address"]["address"]
            for group in cluster["load_assignment"]["endpoints"]
            for e in group["lb_endpoints"]
        ]
        for name, cluster in clusters.items()
    }
    assert endpoints == {"apps/backend/80": ["10.1.0.1"], "shop/backend/80": ["10.2.0.1"]}
