"""The operator (kopf, via KopfRunner) against a real kube-apiserver + controller manager:
statuses, owned workloads, certificates, restarts, deletion and bad input.

There is no kubelet: the Deployments are stored but no pod runs (the end-to-end test runs the
engine as local processes instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from k8s.controlplane import ControlPlane, wait_for
from kopf.testing import KopfRunner

from airlock_microgateway.gateway import free_port
from conftest import host_address
from airlock_operator import crds
from airlock_operator.handlers import lifecycle
from airlock_operator.settings import (
    BOOTSTRAP_SECRET,
    CA_SECRET,
    CONTROLLER_NAME,
    Settings,
    node_id,
)
from airlock_operator.workloads import workload_name

GW = "/apis/gateway.networking.k8s.io/v1"
MG = "/apis/microgateway.airlock.com/v1alpha1"
SYSTEM = Settings().namespace


@pytest.fixture(scope="module")
def operator_env(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    out = tmp_path_factory.mktemp("operator")
    crds.write(out / "crds")
    control_plane.install_crds([out / "crds"])
    if control_plane.api.get(f"/api/v1/namespaces/{SYSTEM}").status_code == 404:
        control_plane.api.post("/api/v1/namespaces", json={"metadata": {"name": SYSTEM}})
    settings = out / "settings.yaml"
    settings.write_text(
        yaml.safe_dump({"xds": {"host": "localhost", "port": free_port(), "listen": "127.0.0.1"}})
    )
    env = {"KUBECONFIG": str(control_plane.kubeconfig), lifecycle.SETTINGS_ENV: str(settings)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


def run_operator() -> KopfRunner:
    return KopfRunner(
        ["run", "--all-namespaces", "--standalone", "-m", "airlock_operator.handlers"],
        timeout=60,
    )


class Operator:
    """The operator under test, in this process (KopfRunner); restartable."""

    def __init__(self) -> None:
        self.runner: KopfRunner | None = None

    def start(self) -> None:
        self.runner = run_operator()
        self.runner.__enter__()
        wait_for(lambda: lifecycle._controller is not None, "operator started")

    def stop(self) -> None:
        assert self.runner is not None
        self.runner.__exit__(None, None, None)
        assert self.runner.exit_code == 0, self.runner.output
        self.runner = None


@pytest.fixture(scope="module")
def operator(operator_env: dict[str, str]) -> Iterator[Operator]:
    running = Operator()
    running.start()
    yield running
    running.stop()


def create(cp: ControlPlane, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = cp.api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def get(cp: ControlPlane, path: str) -> dict[str, Any] | None:
    response = cp.api.get(path)
    return response.json() if response.status_code == 200 else None


def condition(conditions: list[dict[str, Any]] | None, kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c["type"] == kind), None)


def status_is(cp: ControlPlane, path: str, pick: Any, expected: tuple[str, str]) -> Any:
    obj = get(cp, path)
    found = pick((obj or {}).get("status") or {}) if obj else None
    return found if found and (found["status"], found["reason"]) == expected else None


def gateway_class(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": CONTROLLER_NAME, **spec},
    }


def setup_app(cp: ControlPlane, ns: str, gateway_class_name: str) -> None:
    """A Gateway, a route to a Service with a hand-made EndpointSlice, a policy."""
    create(
        cp,
        f"{GW}/namespaces/{ns}/gateways",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "gw"},
            "spec": {
                "gatewayClassName": gateway_class_name,
                "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}],
            },
        },
    )
    create(
        cp,
        f"/api/v1/namespaces/{ns}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "backend"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8000}]},
        },
    )
    create(
        cp,
        f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "backend-1", "labels": {"kubernetes.io/service-name": "backend"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8000}],
            "endpoints": [{"addresses": [host_address()], "conditions": {"ready": True}}],
        },
    )
    create(
        cp,
        f"{GW}/namespaces/{ns}/httproutes",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "web"},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "rules": [{"backendRefs": [{"name": "backend", "port": 80}]}],
            },
        },
    )
    create(
        cp,
        f"{MG}/namespaces/{ns}/denyrules",
        {
            "apiVersion": "microgateway.airlock.com/v1alpha1",
            "kind": "DenyRules",
            "metadata": {"name": "strict"},
            "spec": {"request": {"builtIn": {"settings": {"level": "Strict"}}}},
        },
    )
    create(
        cp,
        f"{MG}/namespaces/{ns}/contentsecuritypolicies",
        {
            "apiVersion": "microgateway.airlock.com/v1alpha1",
            "kind": "ContentSecurityPolicy",
            "metadata": {"name": "shop"},
            "spec": {
                "targetRefs": [
                    {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web"}
                ],
                "secured": {"filter": {"denyRulesRef": {"name": "strict"}}},
            },
        },
    )


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
