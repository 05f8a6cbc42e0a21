"""The operator (kopf, via KopfRunner) against a real kube-apiserver + controller manager:
statuses, owned workloads, certificates, restarts, deletion and bad input.

There is no kubelet: the Deployments are stored but no pod runs (the end-to-end test runs the
engine as local processes instead).
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import (
    GW,
    MG,
    SYSTEM,
    Operator,
    condition,
    create,
    gateway_class,
    get,
    setup_app,
    status_is,
)
from k8s.controlplane import ControlPlane, wait_for

from airlock_operator.handlers import lifecycle
from airlock_operator.settings import BOOTSTRAP_SECRET, CA_SECRET, CONTROLLER_NAME, node_id
from airlock_operator.workloads import workload_name


@pytest.fixture
def app(control_plane: ControlPlane, operator: Operator, namespace: str) -> str:
    class_name = f"airlock-{namespace}"
    create(control_plane, f"{GW}/gatewayclasses", gateway_class(class_name))
    setup_app(control_plane, namespace, class_name)
    return namespace


def test_statuses_workloads_and_certificates(control_plane: ControlPlane, app: str) -> None:
    cp, ns = control_plane, app
    wait_for(
        lambda: status_is(
            cp,
            f"{GW}/gatewayclasses/airlock-{ns}",
            lambda s: condition(s.get("conditions"), "Accepted"),
            ("True", "Accepted"),
        ),
        "GatewayClass Accepted",
    )
    gw_path = f"{GW}/namespaces/{ns}/gateways/gw"
    wait_for(
        lambda: status_is(
            cp, gw_path, lambda s: condition(s.get("conditions"), "Accepted"), ("True", "Accepted")
        ),
        "Gateway Accepted",
    )
    route_path = f"{GW}/namespaces/{ns}/httproutes/web"
    for kind in ("Accepted", "ResolvedRefs"):
        wait_for(
            lambda kind=kind: status_is(
                cp,
                route_path,
                lambda s, kind=kind: condition(
                    (s.get("parents") or [{}])[0].get("conditions"), kind
                ),
                ("True", kind),
            ),
            f"HTTPRoute {kind}",
        )
    wait_for(
        lambda: status_is(
            cp,
            f"{MG}/namespaces/{ns}/contentsecuritypolicies/shop",
            lambda s: condition((s.get("ancestors") or [{}])[0].get("conditions"), "Accepted"),
            ("True", "Accepted"),
        ),
        "ContentSecurityPolicy Accepted",
    )
    gateway = get(cp, gw_path)
    assert gateway is not None
    assert gateway["status"]["listeners"][0]["attachedRoutes"] == 1

    name = workload_name("gw")
    deployment = wait_for(
        lambda: get(cp, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"), "Deployment"
    )
    service = wait_for(lambda: get(cp, f"/api/v1/namespaces/{ns}/services/{name}"), "Service")
    for owned in (deployment, service):
        (owner,) = owned["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "Gateway",
            "gw",
            gateway["metadata"]["uid"],
        )
    assert deployment["spec"]["replicas"] == 2
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    # The Service got a ClusterIP: it becomes the Gateway's address.
    wait_for(lambda: (get(cp, gw_path) or {}).get("status", {}).get("addresses"), "address")

    assert get(cp, f"/api/v1/namespaces/{SYSTEM}/secrets/{CA_SECRET}")
    bootstrap = wait_for(
        lambda: get(cp, f"/api/v1/namespaces/{ns}/secrets/{BOOTSTRAP_SECRET}"), "bootstrap"
    )
    assert {"ca.crt", "tls.crt", "tls.key"} <= set(bootstrap["data"])

    snapshot = lifecycle.controller().cache.get(node_id(ns, "gw"))
    assert snapshot is not None
    routes = snapshot.of("type.googleapis.com/envoy.config.route.v3.RouteConfiguration")
    assert list(routes.resources) == ["routes-8080"]
    policies = snapshot.of("type.googleapis.com/google.protobuf.StringValue")
    assert policies.resources  # the sidecar's documents: the policy and its DenyRules


def test_bad_references_end_in_conditions(control_plane: ControlPlane, app: str) -> None:
    cp, ns = control_plane, app
    create(
        cp,
        f"{GW}/namespaces/{ns}/httproutes",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "broken"},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "rules": [{"backendRefs": [{"name": "nowhere", "port": 80}]}],
            },
        },
    )
    create(
        cp,
        f"{MG}/namespaces/{ns}/contentsecuritypolicies",
        {
            "apiVersion": "microgateway.airlock.com/v1alpha1",
            "kind": "ContentSecurityPolicy",
            "metadata": {"name": "dangling"},
            "spec": {
                "targetRefs": [
                    {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "broken"}
                ],
                "secured": {"limitsRef": {"name": "missing"}},
            },
        },
    )
    resolved = wait_for(
        lambda: status_is(
            cp,
            f"{GW}/namespaces/{ns}/httproutes/broken",
            lambda s: condition((s.get("parents") or [{}])[0].get("conditions"), "ResolvedRefs"),
            ("False", "BackendNotFound"),
        ),
        "BackendNotFound",
    )
    assert "nowhere" in resolved["message"]
    invalid = wait_for(
        lambda: status_is(
            cp,
            f"{MG}/namespaces/{ns}/contentsecuritypolicies/dangling",
            lambda s: condition((s.get("ancestors") or [{}])[0].get("conditions"), "Accepted"),
            ("False", "Invalid"),
        ),
        "policy Invalid",
    )
    assert "Limits" in invalid["message"] and "missing" in invalid["message"]
    assert lifecycle.controller().passes > 0  # the operator is alive and still reconciling


def test_restart_changes_nothing(control_plane: ControlPlane, app: str, operator: Operator) -> None:
    cp, ns = control_plane, app
    name = workload_name("gw")
    paths = [
        f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        f"/api/v1/namespaces/{ns}/services/{name}",
        f"/api/v1/namespaces/{ns}/secrets/{BOOTSTRAP_SECRET}",
        f"{GW}/namespaces/{ns}/gateways/gw",
        f"{GW}/namespaces/{ns}/httproutes/web",
        f"{MG}/namespaces/{ns}/contentsecuritypolicies/shop",
    ]
    for path in paths:
        wait_for(lambda path=path: get(cp, path), path)
    wait_for(
        lambda: (get(cp, paths[3]) or {}).get("status", {}).get("addresses"), "Gateway address"
    )
    # Quiet: nothing more to write.
    settle(cp, paths)
    before = {path: get(cp, path)["metadata"]["resourceVersion"] for path in paths}  # type: ignore[index]

    operator.stop()
    operator.start()  # a fresh operator on the same cluster
    assert lifecycle._controller is not None
    wait_for(lambda: lifecycle._controller.passes >= 2, "two reconcile passes")  # type: ignore[union-attr]
    after = {path: get(cp, path)["metadata"]["resourceVersion"] for path in paths}  # type: ignore[index]
    deployments = get(cp, f"/apis/apps/v1/namespaces/{ns}/deployments")
    assert deployments is not None
    assert len(deployments["items"]) == 1
    assert after == before


def settle(cp: ControlPlane, paths: list[str], quiet: float = 2.0) -> None:
    """Waits until none of the objects changed for `quiet` seconds."""
    import time

    last: dict[str, str] = {}
    stable_since = time.monotonic()
    deadline = stable_since + 60
    while time.monotonic() < deadline:
        now = {
            path: (get(cp, path) or {}).get("metadata", {}).get("resourceVersion", "")
            for path in paths
        }
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            return
        time.sleep(0.2)
    raise AssertionError(f"objects kept changing: {last}")


def test_deleting_the_gateway_removes_what_it_owned(control_plane: ControlPlane, app: str) -> None:
    cp, ns = control_plane, app
    name = workload_name("gw")
    deployment_path = f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"
    service_path = f"/api/v1/namespaces/{ns}/services/{name}"
    wait_for(lambda: get(cp, deployment_path), "Deployment")
    wait_for(lambda: get(cp, service_path), "Service")
    assert cp.api.delete(f"{GW}/namespaces/{ns}/gateways/gw").status_code == 200
    # Owner references: the controller manager's garbage collector deletes them.
    wait_for(lambda: get(cp, deployment_path) is None, "Deployment deleted", timeout=90)
    wait_for(lambda: get(cp, service_path) is None, "Service deleted", timeout=90)
    wait_for(
        lambda: lifecycle.controller().cache.get(node_id(ns, "gw")) is None,
        "engine configuration dropped",
    )

    def parents() -> list[dict[str, Any]]:
        route = get(cp, f"{GW}/namespaces/{ns}/httproutes/web") or {}
        return (route.get("status") or {}).get("parents") or []

    # The route's status no longer names the deleted Gateway.
    wait_for(
        lambda: not any(p["controllerName"] == CONTROLLER_NAME for p in parents()), "parent gone"
    )


def test_invalid_resources_are_rejected_by_the_schema(
    control_plane: ControlPlane, namespace: str
) -> None:
    response = control_plane.api.post(
        f"{MG}/namespaces/{namespace}/denyrules",
        json={
            "apiVersion": "microgateway.airlock.com/v1alpha1",
            "kind": "DenyRules",
            "metadata": {"name": "bad"},
            "spec": {"request": {"builtIn": {"settings": {"level": "Paranoid"}}}},
        },
    )
    assert response.status_code == 422
    assert "Paranoid" in response.text
