"""The operator's pure computation: statuses and engine configuration from a World."""

from __future__ import annotations

import base64

import pytest
from world_builders import (
    basic_world,
    condition,
    endpoint_slice,
    gateway,
    gateway_class,
    obj,
    policy,
    route,
    service,
    world_of,
)

from airlock_operator.reconcile import compute
from airlock_operator.settings import CONTROLLER_NAME

NOW = "2026-11-26T00:00:00Z"


def run(world, programmed=lambda node: True):
    return compute(world, programmed, NOW)


def gateway_status(outcome, ns="apps", name="gw"):
    return outcome.statuses[("Gateway", ns, name)]


def parent_condition(outcome, kind, name="web", ns="apps", index=0):
    parents = outcome.statuses[("HTTPRoute", ns, name)]["parents"]
    return condition(parents[index]["conditions"], kind)


def routes_of(outcome, node="apps/gw", port=8080):
    configs = {c["name"]: c for c in outcome.engines[node].resources.route_configs}
    return configs[f"routes-{port}"]["virtual_hosts"]


def test_class_gateway_route_accepted_and_configured():
    outcome = run(basic_world())
    assert (
        condition(outcome.statuses[("GatewayClass", "", "airlock")]["conditions"], "Accepted")[
            "status"
        ]
        == "True"
    )
    status = gateway_status(outcome)
    assert condition(status["conditions"], "Accepted")["reason"] == "Accepted"
    assert status["listeners"][0]["attachedRoutes"] == 1
    assert status["listeners"][0]["supportedKinds"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}
    ]
    assert parent_condition(outcome, "Accepted")["status"] == "True"
    assert parent_condition(outcome, "ResolvedRefs")["status"] == "True"
    engine = outcome.engines["apps/gw"]
    assert [listener["name"] for listener in engine.resources.listeners] == ["listener-8080"]
    (cluster,) = engine.resources.clusters
    assert cluster["name"] == "apps/backend/80"
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 8000}
    (vhost,) = routes_of(outcome)
    assert vhost["domains"] == ["*"]
    (entry,) = vhost["routes"]
    assert entry["route"]["cluster"] == "apps/backend/80"
    # No policy targets the route: the built-in default protects it.
    ext_proc = entry["typed_per_filter_config"]["envoy.filters.http.ext_proc"]
    assert ext_proc["overrides"]["grpc_initial_metadata"] == [
        {"key": "x-airlock-policy", "value": "default"}
    ]


def test_other_controllers_are_left_alone():
    other = gateway_class("other", controllerName="example.com/other")
    world = world_of(other, gateway(gatewayClassName="other"), route(), service())
    world.get("Gateway", "apps", "gw")["spec"]["gatewayClassName"] = "other"
    outcome = run(world)
    assert outcome.statuses == {}
    assert outcome.engines == {}


def test_programmed_waits_for_an_address_and_an_engine():
    world = basic_world()
    status = gateway_status(run(world))
    programmed = condition(status["conditions"], "Programmed")
    assert (programmed["status"], programmed["reason"]) == ("False", "AddressNotAssigned")
    assert status["addresses"] == []  # no Service of ours yet
    world.put(
        "Service", obj("v1", "Service", "gw-airlock", "apps", spec={"clusterIP": "10.96.0.7"})
    )
    status = gateway_status(run(world, programmed=lambda node: False))
    programmed = condition(status["conditions"], "Programmed")
    assert (programmed["status"], programmed["reason"]) == ("False", "Pending")


def test_same_status_twice_keeps_transition_time():
    world = basic_world()
    first = run(world)
    world.get("Gateway", "apps", "gw")["status"] = gateway_status(first)
    second = compute(world, lambda node: True, "2026-11-27T00:00:00Z")
    assert gateway_status(second) == gateway_status(first)


@pytest.mark.parametrize(
    ("listener", "reason"),
    [
        ({"name": "tcp", "port": 9000, "protocol": "TCP"}, "UnsupportedProtocol"),
        (
            {"name": "tls", "port": 9443, "protocol": "HTTPS", "tls": {"mode": "Passthrough"}},
            "UnsupportedValue",
        ),
        # The engine pod's own ports (Envoy's admin and readiness, the sidecar's metrics).
        ({"name": "admin", "port": 9901, "protocol": "HTTP"}, "PortUnavailable"),
        ({"name": "ready", "port": 9902, "protocol": "HTTP"}, "PortUnavailable"),
        ({"name": "metrics", "port": 9102, "protocol": "HTTP"}, "PortUnavailable"),
    ],
)
def test_unsupported_listeners(listener, reason):
    world = basic_world()
    world.put(
        "Gateway", gateway(listeners=[{"name": "http", "port": 8080, "protocol": "HTTP"}, listener])
    )
    status = gateway_status(run(world))
    bad = next(item for item in status["listeners"] if item["name"] == listener["name"])
    assert condition(bad["conditions"], "Accepted")["reason"] == reason
    assert condition(bad["conditions"], "Programmed")["status"] == "False"
    accepted = condition(status["conditions"], "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("True", "ListenersNotValid")


def test_https_listener_needs_a_readable_secret():
    listener = {
        "name": "https",
        "port": 8443,
        "protocol": "HTTPS",
        "hostname": "shop.example.com",
        "tls": {"certificateRefs": [{"name": "shop-tls"}]},
    }
    world = basic_world()
    world.put("Gateway", gateway(listeners=[listener]))
    status = gateway_status(run(world))
    assert condition(status["listeners"][0]["conditions"], "ResolvedRefs")["reason"] == (
        "InvalidCertificateRef"
    )
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    world.put(
        "Secret",
        obj("v1", "Secret", "shop-tls", "apps", data={"tls.crt": pem, "tls.key": pem}),
    )
    outcome = run(world)
    listener_status = gateway_status(outcome)["listeners"][0]
    assert condition(listener_status["conditions"], "ResolvedRefs")["status"] == "True"
    (envoy_listener,) = outcome.engines["apps/gw"].resources.listeners
    chain = envoy_listener["filter_chains"][0]
    assert chain["filter_chain_match"] == {"server_names": ["shop.example.com"]}
    assert chain["transport_socket"]["name"] == "envoy.transport_sockets.tls"


def test_cross_namespace_certificate_needs_a_reference_grant():
    listener = {
        "name": "https",
        "port": 8443,
        "protocol": "HTTPS",
        "tls": {"certificateRefs": [{"name": "tls", "namespace": "certs"}]},
    }
    pem = base64.b64encode(b"pem").decode()
    world = basic_world(obj("v1", "Secret", "tls", "certs", data={"tls.crt": pem, "tls.key": pem}))
    world.put("Gateway", gateway(listeners=[listener]))
    resolved = condition(gateway_status(run(world))["listeners"][0]["conditions"], "ResolvedRefs")
    assert resolved["reason"] == "RefNotPermitted"
    world.put(
        "ReferenceGrant",
        obj(
            "gateway.networking.k8s.io/v1beta1",
            "ReferenceGrant",
            "allow",
            "certs",
            spec={
                "from": [
                    {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "apps"}
                ],
                "to": [{"group": "", "kind": "Secret"}],
            },
        ),
    )
    resolved = condition(gateway_status(run(world))["listeners"][0]["conditions"], "ResolvedRefs")
    assert resolved["status"] == "True"


def test_conflicting_listeners():
    listeners = [
        {"name": "a", "port": 8080, "protocol": "HTTP"},
        {
            "name": "b",
            "port": 8080,
            "protocol": "HTTPS",
            "tls": {"certificateRefs": [{"name": "x"}]},
        },
    ]
    world = basic_world()
    world.put("Gateway", gateway(listeners=listeners))
    status = gateway_status(run(world))
    for item in status["listeners"]:
        assert condition(item["conditions"], "Conflicted")["reason"] == "ProtocolConflict"


def test_missing_parameters_are_reported_on_the_class():
    world = basic_world()
    world.put(
        "GatewayClass",
        gateway_class(
            parametersRef={
                "group": "microgateway.airlock.com",
                "kind": "GatewayParameters",
                "name": "missing",
                "namespace": "apps",
            }
        ),
    )
    outcome = run(world)
    accepted = condition(
        outcome.statuses[("GatewayClass", "", "airlock")]["conditions"], "Accepted"
    )
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidParameters")
    assert "missing" in accepted["message"]
    gw = condition(gateway_status(outcome)["conditions"], "Accepted")
    assert gw["status"] == "False"
    assert parent_condition(outcome, "Accepted")["status"] == "False"


def test_gateway_parameters_replace_the_class_defaults():
    params = policy("GatewayParameters", "open", defaults={"contentSecurity": {"unsecured": {}}})
    world = basic_world(params)
    world.put(
        "Gateway",
        gateway(
            infrastructure={
                "parametersRef": {
                    "group": "microgateway.airlock.com",
                    "kind": "GatewayParameters",
                    "name": "open",
                }
            }
        ),
    )
    (vhost,) = routes_of(run(world))
    ext_proc = vhost["routes"][0]["typed_per_filter_config"]["envoy.filters.http.ext_proc"]
    assert ext_proc["disabled"] is True


@pytest.mark.parametrize(
    ("parent", "reason"),
    [
        ({"name": "gw", "sectionName": "nope"}, "NoMatchingParent"),
        ({"name": "gw", "port": 9999}, "NoMatchingParent"),
    ],
)
def test_route_parent_without_listener(parent, reason):
    world = basic_world()
    world.put("HTTPRoute", route(parents=[parent]))
    assert parent_condition(run(world), "Accepted")["reason"] == reason


def test_allowed_routes_namespaces():
    world = basic_world(route("other", namespace="team"), service(namespace="team"))
    outcome = run(world)
    assert parent_condition(outcome, "Accepted", name="other", ns="team")["reason"] == (
        "NotAllowedByListeners"
    )
    listener = {
        "name": "http",
        "port": 8080,
        "protocol": "HTTP",
        "allowedRoutes": {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "yes"}}}
        },
    }
    world.put("Gateway", gateway(listeners=[listener]))
    world.put("Namespace", obj("v1", "Namespace", "team", labels={"team": "yes"}))
    outcome = run(world)
    assert parent_condition(outcome, "Accepted", name="other", ns="team")["status"] == "True"
    # The Gateway's own namespace is not labelled: its route no longer attaches.
    assert parent_condition(outcome, "Accepted")["reason"] == "NotAllowedByListeners"


def test_hostnames_must_intersect():
    listener = {"name": "http", "port": 8080, "protocol": "HTTP", "hostname": "*.example.com"}
    world = basic_world()
    world.put("Gateway", gateway(listeners=[listener]))
    world.put("HTTPRoute", route(hostnames=["shop.other.org"]))
    assert parent_condition(run(world), "Accepted")["reason"] == "NoMatchingListenerHostname"
    world.put("HTTPRoute", route(hostnames=["shop.example.com", "shop.other.org"]))
    outcome = run(world)
    assert parent_condition(outcome, "Accepted")["status"] == "True"
    (vhost,) = routes_of(outcome)
    assert vhost["domains"] == ["shop.example.com"]


@pytest.mark.parametrize(
    ("backend", "extra", "reason"),
    [
        ({"name": "missing", "port": 80}, (), "BackendNotFound"),
        ({"name": "backend", "port": 81}, (), "BackendNotFound"),
        ({"name": "backend", "port": 80, "kind": "Pod", "group": ""}, (), "InvalidKind"),
        (
            {"name": "backend", "port": 80, "namespace": "db"},
            (service(namespace="db"),),
            "RefNotPermitted",
        ),
    ],
)
def test_unresolved_backends_answer_500(backend, extra, reason):
    world = basic_world(*extra)
    world.put("HTTPRoute", route(rules=[{"backendRefs": [backend]}]))
    outcome = run(world)
    resolved = parent_condition(outcome, "ResolvedRefs")
    assert (resolved["status"], resolved["reason"]) == ("False", reason)
    assert parent_condition(outcome, "Accepted")["status"] == "True"
    (vhost,) = routes_of(outcome)
    assert vhost["routes"][0]["direct_response"] == {"status": 500}


def test_reference_grant_allows_a_cross_namespace_backend():
    grant = obj(
        "gateway.networking.k8s.io/v1beta1",
        "ReferenceGrant",
        "allow",
        "db",
        spec={
            "from": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "apps"}
            ],
            "to": [{"group": "", "kind": "Service", "name": "backend"}],
        },
    )
    world = basic_world(service(namespace="db"), endpoint_slice(namespace="db"), grant)
    world.put(
        "HTTPRoute",
        route(rules=[{"backendRefs": [{"name": "backend", "namespace": "db", "port": 80}]}]),
    )
    outcome = run(world)
    assert parent_condition(outcome, "ResolvedRefs")["status"] == "True"
    (vhost,) = routes_of(outcome)
    assert vhost["routes"][0]["route"]["cluster"] == "db/backend/80"


def test_route_precedence_and_matches():
    rules = [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": "backend", "port": 80}],
        },
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/api/"}, "method": "POST"}],
            "backendRefs": [{"name": "backend", "port": 80}],
        },
        {
            "matches": [
                {
                    "path": {"type": "Exact", "value": "/login"},
                    "headers": [{"name": "x-env", "value": "test"}],
                    "queryParams": [{"name": "debug", "value": "1"}],
                }
            ],
            "backendRefs": [{"name": "backend", "port": 80}],
        },
    ]
    world = basic_world()
    world.put("HTTPRoute", route(rules=rules))
    (vhost,) = routes_of(run(world))
    matches = [r["match"] for r in vhost["routes"]]
    assert matches[0]["path"] == "/login"
    assert matches[0]["headers"] == [{"name": "x-env", "string_match": {"exact": "test"}}]
    assert matches[0]["query_parameters"] == [{"name": "debug", "string_match": {"exact": "1"}}]
    assert matches[1]["path_separated_prefix"] == "/api"
    assert {"name": ":method", "string_match": {"exact": "POST"}} in matches[1]["headers"]
    assert matches[2] == {"prefix": "/"}


def test_regex_paths_need_the_feature():
    rules = [
        {
            "matches": [{"path": {"type": "RegularExpression", "value": "/a.*"}}],
            "backendRefs": [{"name": "backend", "port": 80}],
        }
    ]
    world = basic_world()
    world.put("HTTPRoute", route(rules=rules))
    assert parent_condition(run(world), "Accepted")["reason"] == "UnsupportedValue"


def test_filters_become_route_fields():
    rules = [
        {
            "filters": [
                {
                    "type": "RequestHeaderModifier",
                    "requestHeaderModifier": {
                        "set": [{"name": "x-a", "value": "1"}],
                        "remove": ["x-b"],
                    },
                },
                {
                    "type": "ResponseHeaderModifier",
                    "responseHeaderModifier": {"add": [{"name": "x-c", "value": "2"}]},
                },
                {
                    "type": "URLRewrite",
                    "urlRewrite": {
                        "hostname": "internal",
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"},
                    },
                },
            ],
            "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
            "backendRefs": [
                {"name": "backend", "port": 80, "weight": 3},
                {"name": "missing", "port": 80, "weight": 1},
            ],
        },
        {
            "matches": [{"path": {"type": "Exact", "value": "/old"}}],
            "filters": [
                {
                    "type": "RequestRedirect",
                    "requestRedirect": {"scheme": "https", "statusCode": 301},
                }
            ],
        },
    ]
    world = basic_world()
    world.put("HTTPRoute", route(rules=rules))
    (vhost,) = routes_of(run(world))
    redirect, rewritten = vhost["routes"]
    assert redirect["redirect"] == {
        "response_code": "MOVED_PERMANENTLY",
        "scheme_redirect": "https",
    }
    assert rewritten["route"]["host_rewrite_literal"] == "internal"
    assert rewritten["route"]["prefix_rewrite"] == "/v2"
    assert rewritten["route"]["weighted_clusters"]["clusters"] == [
        {"name": "apps/backend/80", "weight": 3},
        {"name": "airlock_invalid_backend", "weight": 1},
    ]
    assert rewritten["request_headers_to_add"][0] == {
        "header": {"key": "x-a", "value": "1"},
        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
    }
    assert "x-b" in rewritten["request_headers_to_remove"]
    assert {"header": {"key": "x-c", "value": "2"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"} in (
        rewritten["response_headers_to_add"]
    )


def test_unsupported_filter_is_reported():
    rules = [
        {
            "filters": [
                {
                    "type": "RequestMirror",
                    "requestMirror": {"backendRef": {"name": "backend", "port": 80}},
                }
            ],
            "backendRefs": [{"name": "backend", "port": 80}],
        }
    ]
    world = basic_world()
    world.put("HTTPRoute", route(rules=rules))
    accepted = parent_condition(run(world), "Accepted")
    assert (accepted["reason"], "RequestMirror" in accepted["message"]) == (
        "UnsupportedValue",
        True,
    )


def csp(name="shop", created=None, **secured):
    return policy(
        "ContentSecurityPolicy",
        name,
        created=created,
        targetRefs=[{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web"}],
        secured=secured,
    )


def test_policy_protects_its_route_and_reaches_the_sidecar():
    deny = policy("DenyRules", "strict", request={"builtIn": {"settings": {"level": "Strict"}}})
    world = basic_world(csp(filter={"denyRulesRef": {"name": "strict"}}), deny)
    outcome = run(world)
    (vhost,) = routes_of(outcome)
    ext_proc = vhost["routes"][0]["typed_per_filter_config"]["envoy.filters.http.ext_proc"]
    assert ext_proc["overrides"]["grpc_initial_metadata"][0]["value"] == "apps.shop"
    documents = outcome.engines["apps/gw"].documents
    assert sorted((d["kind"], d["metadata"]["name"]) for d in documents) == [
        ("ContentSecurityPolicy", "apps.shop"),
        ("DenyRules", "apps.strict"),
    ]
    csp_doc = next(d for d in documents if d["kind"] == "ContentSecurityPolicy")
    assert csp_doc["spec"]["secured"]["filter"]["denyRulesRef"]["name"] == "apps.strict"
    (ancestor,) = outcome.statuses[("ContentSecurityPolicy", "apps", "shop")]["ancestors"]
    assert ancestor["ancestorRef"] == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "namespace": "apps",
        "name": "gw",
    }
    assert ancestor["controllerName"] == CONTROLLER_NAME
    assert condition(ancestor["conditions"], "Accepted")["status"] == "True"


def test_policy_with_a_missing_reference_keeps_the_default():
    world = basic_world(csp(filter={"denyRulesRef": {"name": "nope"}}))
    outcome = run(world)
    (ancestor,) = outcome.statuses[("ContentSecurityPolicy", "apps", "shop")]["ancestors"]
    accepted = condition(ancestor["conditions"], "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert "DenyRules apps/nope not found" in accepted["message"]
    (vhost,) = routes_of(outcome)
    ext_proc = vhost["routes"][0]["typed_per_filter_config"]["envoy.filters.http.ext_proc"]
    assert ext_proc["overrides"]["grpc_initial_metadata"][0]["value"] == "default"


def test_policy_with_a_bad_resource_says_what_is_wrong():
    bad = policy("Limits", "tight", request={"limited": {"general": {"bodySize": "-5"}}})
    world = basic_world(csp(limitsRef={"name": "tight"}), bad)
    (ancestor,) = run(world).statuses[("ContentSecurityPolicy", "apps", "shop")]["ancestors"]
    accepted = condition(ancestor["conditions"], "Accepted")
    assert accepted["reason"] == "Invalid"
    assert "bodySize" in accepted["message"]


def test_conflicting_policies_oldest_wins():
    world = basic_world(
        csp("first", created="2026-01-01T00:00:00Z"),
        csp("second", created="2026-02-01T00:00:00Z"),
    )
    outcome = run(world)
    first = outcome.statuses[("ContentSecurityPolicy", "apps", "first")]["ancestors"][0]
    second = outcome.statuses[("ContentSecurityPolicy", "apps", "second")]["ancestors"][0]
    assert condition(first["conditions"], "Accepted")["status"] == "True"
    conflicted = condition(second["conditions"], "Accepted")
    assert (conflicted["status"], conflicted["reason"]) == ("False", "Conflicted")


def test_policy_target_not_found():
    world = basic_world(
        policy(
            "ContentSecurityPolicy",
            "lost",
            targetRefs=[
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "gone"}
            ],
            secured={},
        )
    )
    (ancestor,) = run(world).statuses[("ContentSecurityPolicy", "apps", "lost")]["ancestors"]
    assert condition(ancestor["conditions"], "Accepted")["reason"] == "TargetNotFound"


def test_unsecured_policy_disables_the_sidecar_for_its_route():
    world = basic_world(
        policy(
            "ContentSecurityPolicy",
            "open",
            targetRefs=[{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web"}],
            unsecured={},
        )
    )
    (vhost,) = routes_of(run(world))
    assert vhost["routes"][0]["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["disabled"]


def test_status_of_other_controllers_is_kept():
    world = basic_world()
    foreign = {"parentRef": {"name": "x"}, "controllerName": "example.com/other", "conditions": []}
    world.get("HTTPRoute", "apps", "web")["status"] = {"parents": [foreign]}
    parents = run(world).statuses[("HTTPRoute", "apps", "web")]["parents"]
    assert parents[0] == foreign
    assert parents[1]["controllerName"] == CONTROLLER_NAME


def test_gateway_address_comes_from_its_service():
    world = basic_world(
        obj("v1", "Service", "gw-airlock", "apps", spec={"clusterIP": "10.96.0.7"}, status={})
    )
    status = gateway_status(run(world))
    assert status["addresses"] == [{"type": "IPAddress", "value": "10.96.0.7"}]
    assert condition(status["conditions"], "Programmed")["status"] == "True"


def test_route_status_forgets_a_deleted_gateway():
    world = basic_world()
    world.get("HTTPRoute", "apps", "web")["status"] = run(world).statuses[
        ("HTTPRoute", "apps", "web")
    ]
    world.remove("Gateway", ("apps", "gw"))
    assert run(world).statuses[("HTTPRoute", "apps", "web")] == {"parents": []}
