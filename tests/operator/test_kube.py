"""airlock_operator.kube against a real kube-apiserver (tests/k8s/controlplane.py): server-side
apply without flapping, status patches of Gateway API and microgateway.airlock.com objects,
get and delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.controlplane import ControlPlane
from kubernetes.client import ApiException

from airlock_operator import crds
from airlock_operator.kube import Kube, KubeError, load_client
from airlock_operator.settings import FIELD_MANAGER

GATEWAY_API = "gateway.networking.k8s.io/v1"
CONDITION = {
    "type": "Accepted",
    "status": "True",
    "reason": "Accepted",
    "message": "",
    "lastTransitionTime": "2025-01-01T00:00:00Z",
}


@pytest.fixture
def kube(control_plane: ControlPlane) -> Iterator[Kube]:
    api = load_client(control_plane.kubeconfig)
    yield Kube(api)
    api.close()


def _config_map(ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": ns},
        "data": data,
    }


def test_apply_twice_changes_nothing(kube: Kube, namespace: str) -> None:
    first = kube.apply(_config_map(namespace, {"a": "1"}))
    second = kube.apply(_config_map(namespace, {"a": "1"}))
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    managers = {m["manager"] for m in second["metadata"]["managedFields"]}
    assert managers == {FIELD_MANAGER}


def test_apply_changed_object_updates_and_drops_what_it_no_longer_names(
    kube: Kube,
    namespace: str,
) -> None:
    first = kube.apply(_config_map(namespace, {"a": "1", "b": "2"}))
    second = kube.apply(_config_map(namespace, {"a": "3"}))
    assert second["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    live = kube.get("v1", "ConfigMap", "settings", namespace)
    assert live is not None and live["data"] == {"a": "3"}


def test_apply_takes_over_fields_of_another_manager(kube: Kube, namespace: str) -> None:
    kube.apply(_config_map(namespace, {"a": "edited"}), field_manager="kubectl")
    applied = kube.apply(_config_map(namespace, {"a": "ours"}))  # force: no conflict error
    assert applied["data"] == {"a": "ours"}
    with pytest.raises(ApiException) as conflict:
        kube.apply(_config_map(namespace, {"a": "theirs"}), field_manager="kubectl", force=False)
    assert conflict.value.status == 409


def test_get_missing_object_is_none(kube: Kube, namespace: str) -> None:
    assert kube.get("apps/v1", "Deployment", "nothing", namespace) is None
    assert kube.get(GATEWAY_API, "GatewayClass", f"{namespace}-nothing") is None


def test_delete(kube: Kube, namespace: str) -> None:
    kube.apply(_config_map(namespace, {"a": "1"}))
    assert kube.delete("v1", "ConfigMap", "settings", namespace) is True
    assert kube.get("v1", "ConfigMap", "settings", namespace) is None
    assert kube.delete("v1", "ConfigMap", "settings", namespace) is False


def test_status_patch_of_gateway_and_gateway_class(kube: Kube, namespace: str) -> None:
    class_name = f"{namespace}-class"
    kube.apply(
        {
            "apiVersion": GATEWAY_API,
            "kind": "GatewayClass",
            "metadata": {"name": class_name},
            "spec": {"controllerName": "microgateway.airlock.com/gatewayclass-controller"},
        }
    )
    gateway = kube.apply(
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "gatewayClassName": class_name,
                "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
            },
        }
    )
    condition = {**CONDITION, "observedGeneration": gateway["metadata"]["generation"]}
    kube.patch_status(GATEWAY_API, "Gateway", "web", namespace, {"conditions": [condition]})
    kube.patch_status(GATEWAY_API, "GatewayClass", class_name, None, {"conditions": [CONDITION]})

    live = kube.get(GATEWAY_API, "Gateway", "web", namespace)
    assert live is not None and live["status"]["conditions"] == [condition]
    live_class = kube.get(GATEWAY_API, "GatewayClass", class_name)
    assert live_class is not None and live_class["status"]["conditions"] == [CONDITION]
    kube.delete(GATEWAY_API, "GatewayClass", class_name)


def test_status_patch_of_our_policy(
    kube: Kube,
    control_plane: ControlPlane,
    namespace: str,
    tmp_path: Path,
) -> None:
    control_plane.install_crds(crds.write(tmp_path))
    api_version = f"{crds.API_GROUP}/{crds.VERSION}"
    kube.apply(
        {
            "apiVersion": api_version,
            "kind": "ContentSecurityPolicy",
            "metadata": {"name": "shop", "namespace": namespace},
            "spec": {
                "targetRefs": [
                    {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "shop"}
                ]
            },
        }
    )
    ancestors = [
        {
            "ancestorRef": {"name": "web"},
            "controllerName": "microgateway.airlock.com/gatewayclass-controller",
            "conditions": [CONDITION],
        }
    ]
    kube.patch_status(
        api_version, "ContentSecurityPolicy", "shop", namespace, {"ancestors": ancestors}
    )
    live = kube.get(api_version, "ContentSecurityPolicy", "shop", namespace)
    assert live is not None
    assert live["status"]["ancestors"][0]["conditions"] == [CONDITION]
    # The schema's defaults, filled by the API server.
    assert live["status"]["ancestors"][0]["ancestorRef"]["kind"] == "Gateway"


def test_bad_requests_get_clear_errors(kube: Kube, namespace: str) -> None:
    with pytest.raises(KubeError, match="serves no kind Nonsense"):
        kube.get("v1", "Nonsense", "x", namespace)
    with pytest.raises(KubeError, match="serves no example.com/v1"):
        kube.get("example.com/v1", "Thing", "x", namespace)
    with pytest.raises(KubeError, match="namespaced"):
        kube.get("v1", "ConfigMap", "x")
    with pytest.raises(KubeError, match="cluster-scoped"):
        kube.get(GATEWAY_API, "GatewayClass", "x", namespace)
    with pytest.raises(KubeError, match=r"metadata\.name"):
        kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    # The API server's own validation comes back as its answer.
    with pytest.raises(ApiException) as invalid:
        kube.apply({**_config_map(namespace, {}), "data": {"not a key": "x"}})
    assert invalid.value.status == 422
    assert "not a key" in str(invalid.value.body)
