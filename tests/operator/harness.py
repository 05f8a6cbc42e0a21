"""The operator under test, run in this process with KopfRunner against the control plane of
tests/k8s, and small helpers to create and read objects through the API server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from k8s.controlplane import ControlPlane, host_address, wait_for
from kopf.testing import KopfRunner

from airlock_microgateway.gateway import free_port
from airlock_operator import crds
from airlock_operator.handlers import lifecycle
from airlock_operator.settings import CONTROLLER_NAME, Settings

GW = "/apis/gateway.networking.k8s.io/v1"
MG = "/apis/microgateway.airlock.com/v1alpha1"
SYSTEM = Settings().namespace


@pytest.fixture(scope="module")
def operator_settings() -> dict[str, Any]:
    """Extra operator settings of a test module (override the fixture there)."""
    return {}


@pytest.fixture(scope="module")
def operator_env(
    control_plane: ControlPlane,
    tmp_path_factory: pytest.TempPathFactory,
    operator_settings: dict[str, Any],
) -> Iterator[dict[str, str]]:
    out = tmp_path_factory.mktemp("operator")
    crds.write(out / "crds")
    control_plane.install_crds([out / "crds"])
    if control_plane.api.get(f"/api/v1/namespaces/{SYSTEM}").status_code == 404:
        control_plane.api.post("/api/v1/namespaces", json={"metadata": {"name": SYSTEM}})
    settings = out / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "xds": {"host": "localhost", "port": free_port(), "listen": "127.0.0.1"},
                "metrics": {"port": 0},  # none: tests that scrape set their own port
                **operator_settings,
            }
        )
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


def setup_app(
    cp: ControlPlane,
    ns: str,
    gateway_class_name: str,
    listener_port: int = 8080,
    backend: tuple[str, int] | None = None,
) -> None:
    """A Gateway, a route to a Service with a hand-made EndpointSlice (to `backend`, default a
    port of this host where nothing listens), a policy with Strict DenyRules."""
    backend_address, backend_port = backend or (host_address(), 8000)
    create(
        cp,
        f"{GW}/namespaces/{ns}/gateways",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "gw"},
            "spec": {
                "gatewayClassName": gateway_class_name,
                "listeners": [{"name": "http", "port": listener_port, "protocol": "HTTP"}],
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
            "ports": [{"name": "http", "port": backend_port}],
            "endpoints": [{"addresses": [backend_address], "conditions": {"ready": True}}],
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
