"""The Deployment and Service of a Gateway (airlock_operator.workloads): what each
GatewayParameters setting turns into, and, against a real kube-apiserver, that the objects are
accepted, meet the `restricted` Pod Security Standard, are garbage-collected with their Gateway
and keep an unset replica count across applies."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.controlplane import ControlPlane, wait_for

from airlock_filters.errors import PolicyError
from airlock_filters.resources import LOG_LEVELS, SPECS
from airlock_microgateway.gateway import envoy_binary
from airlock_microgateway.sidecar import socket_paths
from airlock_operator.engine_bootstrap import build_sds_files
from airlock_operator.kube import Kube, load_client
from airlock_operator.settings import (
    BOOTSTRAP_MOUNT,
    BOOTSTRAP_SECRET,
    ENGINE_ADMIN_PORT,
    ENGINE_READY_PORT,
    POD_PORTS,
    SOCKET_DIR,
    Settings,
)
from airlock_operator.workloads import (
    GATEWAY_NAME_LABEL,
    REPLICAS_FIELD_MANAGER,
    WorkloadError,
    build_deployment,
    build_service,
    replicas_claim,
    selector_labels,
    workload_name,
)

SETTINGS = Settings(
    xds_host="operator.airlock.svc", xds_port=13377, sidecar_workers=3, engine_image="envoy:x"
)
GATEWAY_API = "gateway.networking.k8s.io/v1"


def _gateway(
    listeners: list[dict[str, Any]] | None = None, name: str = "web", ns: str = "shop"
) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns, "uid": "1234-abcd"},
        "spec": {
            "gatewayClassName": "airlock",
            "listeners": listeners
            if listeners is not None
            else [{"name": "http", "port": 80, "protocol": "HTTP"}],
        },
    }


def _params(spec: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = SPECS["GatewayParameters"].load(spec, "spec")
    return loaded


def _deployment_params(deployment: dict[str, Any]) -> dict[str, Any]:
    return _params({"kubernetes": {"deployment": deployment}})


def _service_params(service: dict[str, Any]) -> dict[str, Any]:
    return _params({"kubernetes": {"service": service}})


def _containers(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


# --- Deployment -------------------------------------------------------------------------------


def test_default_deployment() -> None:
    deployment = build_deployment(_gateway(), None, SETTINGS)
    metadata = deployment["metadata"]
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    assert (metadata["name"], metadata["namespace"]) == ("web-airlock", "shop")
    assert metadata["labels"][GATEWAY_NAME_LABEL] == "web"
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "name": "web",
            "uid": "1234-abcd",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert "strategy" not in spec
    selector = spec["selector"]["matchLabels"]
    assert selector == selector_labels(_gateway())
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()

    pod = _pod(deployment)
    assert pod["automountServiceAccountToken"] is False
    for key in ("imagePullSecrets", "nodeSelector", "affinity", "tolerations"):
        assert key not in pod
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in pod["securityContext"][
        "sysctls"
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert [v for v in volumes.values() if v.get("secret")] == [
        {
            "name": "airlock-bootstrap",
            "secret": {"secretName": BOOTSTRAP_SECRET, "defaultMode": 0o440},
        }
    ]
    assert "emptyDir" in volumes["airlock-sockets"]

    containers = _containers(deployment)
    assert list(containers) == ["engine", "sidecar"]
    for container in containers.values():
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["runAsNonRoot"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[SOCKET_DIR]["name"] == "airlock-sockets"
        assert mounts[BOOTSTRAP_MOUNT] == {
            "name": "airlock-bootstrap",
            "mountPath": BOOTSTRAP_MOUNT,
            "readOnly": True,
        }
    engine = containers["engine"]
    assert engine["image"] == "envoy:x"
    assert engine["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}}
    assert engine["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"name": "ready", "containerPort": ENGINE_READY_PORT, "protocol": "TCP"},
    ]


def test_engine_runs_envoy_with_the_bootstrap_of_its_gateway() -> None:
    engine = _containers(build_deployment(_gateway(), {}, SETTINGS))["engine"]
    assert engine["command"] == ["envoy"]
    args = engine["args"]
    bootstrap = json.loads(args[args.index("--config-yaml") + 1])
    assert bootstrap["node"]["id"] == "shop/web"
    assert bootstrap["admin"]["address"]["socket_address"] == {
        "address": "127.0.0.1",
        "port_value": ENGINE_ADMIN_PORT,
    }
    # kubelet probes the readiness listener (the admin interface stays on loopback).
    [ready] = bootstrap["static_resources"]["listeners"]
    assert ready["address"]["socket_address"]["port_value"] == ENGINE_READY_PORT
    assert engine["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "ready"}
    health = ready["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0]
    # Every worker slot (three workers, two socket paths each) passes Envoy's health check.
    minimum = health["typed_config"]["cluster_min_healthy_percentages"]["airlock_sidecar"]
    assert minimum == {"value": 50.0}
    # The sidecar cluster knows every socket path the sidecar's workers may listen on.
    assert set(socket_paths(SOCKET_DIR, 3)) <= set(re.findall(r"/[\w/.-]+\.sock", args[1]))
    assert "--disable-hot-restart" in args
    assert args[args.index("--log-level") + 1] == "info"


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_envoy_accepts_the_engine_arguments(level: str, tmp_path: Path) -> None:
    engine = _containers(
        build_deployment(_gateway(), _params({"logging": {"level": level}}), SETTINGS)
    )["engine"]
    # The Secret's SDS files must exist; here they hold no real PEMs (validation does not parse
    # them) and live in tmp_path instead of the mount.
    for file_name, content in build_sds_files(b"ca", b"cert", b"key").items():
        (tmp_path / file_name).write_bytes(content)
    args = [arg.replace(BOOTSTRAP_MOUNT, str(tmp_path)) for arg in engine["args"]]
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_sidecar_arguments() -> None:
    sidecar = _containers(build_deployment(_gateway(), None, SETTINGS))["sidecar"]
    assert sidecar["image"] == Settings().sidecar_image
    assert [*sidecar["command"], *sidecar["args"]] == [
        "airlock-microgateway",
        "sidecar",
        "--socket-dir",
        SOCKET_DIR,
        "--workers",
        "3",
        "--operator",
        "operator.airlock.svc:13377",
        "--node-id",
        "shop/web",
        "--tls-dir",
        BOOTSTRAP_MOUNT,
        "--metrics",
        "0.0.0.0:9102",
    ]
    assert sidecar["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert "readinessProbe" not in sidecar  # the engine's probe covers the workers
    # The root filesystem is read-only: the rules cache and the metrics go to a writable /tmp.
    assert {"name": "airlock-tmp", "mountPath": "/tmp"} in sidecar["volumeMounts"]
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert env["AIRLOCK_FILTERS_CACHE_DIR"].startswith("/tmp/")


def test_a_terminating_pod_serves_until_traffic_has_moved_away() -> None:
    """Both containers wait before their SIGTERM (kubelet runs the preStop sleep, which cannot
    run here: the API server test below only shows it is accepted)."""
    pod = build_deployment(_gateway(), None, SETTINGS)["spec"]["template"]["spec"]
    sleeps = [c["lifecycle"]["preStop"]["sleep"]["seconds"] for c in pod["containers"]]
    assert len(sleeps) == 2 and len(set(sleeps)) == 1
    drain = 10  # the sidecar's --drain-seconds default
    assert sleeps[0] + drain < pod.get("terminationGracePeriodSeconds", 30)


def test_filled_partial_and_missing_parameters_agree() -> None:
    filled = _params({})
    assert build_deployment(_gateway(), filled, SETTINGS) == build_deployment(
        _gateway(), None, SETTINGS
    )
    assert build_service(_gateway(), filled) == build_service(_gateway(), {})
    # A spec not yet filled with defaults is filled here.
    partial = {"kubernetes": {"deployment": {"replicas": 3}}}
    assert build_deployment(_gateway(), partial, SETTINGS) == build_deployment(
        _gateway(), _params(partial), SETTINGS
    )


@pytest.mark.parametrize(
    ("replicas", "creating", "expected"),
    [(None, True, 2), (None, False, None), (5, True, 5), (5, False, 5)],
)
def test_replicas(replicas: int | None, creating: bool, expected: int | None) -> None:
    deployment: dict[str, Any] = {} if replicas is None else {"replicas": replicas}
    spec = build_deployment(
        _gateway(), _deployment_params(deployment), SETTINGS, creating=creating
    )["spec"]
    assert spec.get("replicas") == expected


def test_replicas_claim_names_only_the_count() -> None:
    deployment = build_deployment(_gateway(), None, SETTINGS)
    assert replicas_claim(deployment) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web-airlock", "namespace": "shop"},
        "spec": {"replicas": 2},
    }
    assert replicas_claim(deployment, 7)["spec"] == {"replicas": 7}


def test_engine_resources_replace_the_default() -> None:
    resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    params = _deployment_params({"engineContainer": {"resources": resources}})
    engine = _containers(build_deployment(_gateway(), params, SETTINGS))["engine"]
    assert engine["resources"] == resources


def test_capabilities_are_added_to_the_engine_only() -> None:
    params = _deployment_params(
        {"engineContainer": {"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}}
    )
    containers = _containers(build_deployment(_gateway(), params, SETTINGS))
    assert containers["engine"]["securityContext"]["capabilities"] == {
        "drop": ["ALL"],
        "add": ["NET_BIND_SERVICE"],
    }
    assert containers["sidecar"]["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_log_level() -> None:
    params = _params({"logging": {"level": "debug"}})
    args = _containers(build_deployment(_gateway(), params, SETTINGS))["engine"]["args"]
    assert args[args.index("--log-level") + 1] == "debug"


def test_pod_settings() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    params = _deployment_params(
        {
            "strategy": strategy,
            "automountServiceAccountToken": True,
            "imagePullSecrets": [{"name": "registry"}],
        }
    )
    deployment = build_deployment(_gateway(), params, SETTINGS)
    assert deployment["spec"]["strategy"] == strategy
    pod = _pod(deployment)
    assert pod["automountServiceAccountToken"] is True
    assert pod["imagePullSecrets"] == [{"name": "registry"}]


def test_placement() -> None:
    affinity = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app": "x"}},
                    },
                }
            ]
        }
    }
    own = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}
    given = {
        "maxSkew": 2,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"tier": "edge"}},
    }
    tolerations = [{"key": "dedicated", "operator": "Equal", "value": "edge"}]
    params = _deployment_params(
        {
            "placement": {
                "nodeSelector": {"pool": "edge"},
                "affinity": affinity,
                "tolerations": tolerations,
                "topologySpreadConstraints": [own, given],
            }
        }
    )
    pod = _pod(build_deployment(_gateway(), params, SETTINGS))
    assert pod["nodeSelector"] == {"pool": "edge"}
    assert pod["affinity"] == affinity
    assert pod["tolerations"] == tolerations
    # A constraint without a selector counts the Gateway's own pods; a given one is kept.
    assert pod["topologySpreadConstraints"] == [
        {**own, "labelSelector": {"matchLabels": selector_labels(_gateway())}},
        given,
    ]


def test_volumes_and_engine_mounts() -> None:
    params = _deployment_params(
        {
            "volumes": [{"name": "geoip", "configMap": {"name": "geoip"}}],
            "engineContainer": {"volumeMounts": [{"name": "geoip", "mountPath": "/etc/geoip"}]},
        }
    )
    deployment = build_deployment(_gateway(), params, SETTINGS)
    assert {"name": "geoip", "configMap": {"name": "geoip"}} in _pod(deployment)["volumes"]
    containers = _containers(deployment)
    assert {"name": "geoip", "mountPath": "/etc/geoip"} in containers["engine"]["volumeMounts"]
    assert all(m["name"] != "geoip" for m in containers["sidecar"]["volumeMounts"])


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        ({"volumes": [{"name": "airlock-sockets", "emptyDir": {}}]}, "reserved"),
        ({"engineContainer": {"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}}, "nope"),
        (
            {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "engineContainer": {"volumeMounts": [{"name": "v", "mountPath": SOCKET_DIR}]},
            },
            "reserved",
        ),
    ],
)
def test_conflicting_volumes_are_clear_errors(deployment: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        build_deployment(_gateway(), _deployment_params(deployment), SETTINGS)


@pytest.mark.parametrize(
    ("gateway", "message"),
    [
        ({"metadata": {"name": "web", "namespace": "shop"}}, "uid"),
        ({}, "metadata"),
        (_gateway(listeners=[]), "no listener"),
        (_gateway(listeners=[{"name": "x", "port": 0, "protocol": "HTTP"}]), r"listeners\[0\]"),
        (_gateway(listeners=[{"name": "x", "port": "80", "protocol": "HTTP"}]), "port"),
    ],
)
def test_bad_gateways_are_clear_errors(gateway: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        build_deployment(gateway, None, SETTINGS)
    with pytest.raises(WorkloadError, match=message):
        build_service(gateway, None)


def test_bad_parameters_are_clear_errors() -> None:
    with pytest.raises(PolicyError, match=r"spec\.kubernetes\.service\.type"):
        build_service(_gateway(), {"kubernetes": {"service": {"type": "Ingress"}}})
    with pytest.raises(PolicyError, match="replicas"):
        build_deployment(_gateway(), {"kubernetes": {"deployment": {"replicas": 0}}}, SETTINGS)


def test_workload_names_are_dns_labels() -> None:
    pattern = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    long_a, long_b = "a" * 100 + "-one", "a" * 100 + "-two"
    names = [workload_name(n) for n in ("web", "api.example.com", "1st", long_a, long_b)]
    assert names[0] == "web-airlock"
    assert all(pattern.match(n) and len(n) <= 63 for n in names), names
    assert len(set(names)) == len(names)
    # Label values are at most 63 characters: a long Gateway name is found by instance only.
    long_gateway = _gateway(name=long_a)
    labels = build_deployment(long_gateway, None, SETTINGS)["metadata"]["labels"]
    assert GATEWAY_NAME_LABEL not in labels
    assert labels.items() >= selector_labels(long_gateway).items()


# --- Service ----------------------------------------------------------------------------------


def test_the_pods_own_ports_are_not_listener_ports() -> None:
    listeners = [
        {"name": "http", "port": 80, "protocol": "HTTP"},
        *({"name": f"p{port}", "port": port, "protocol": "HTTP"} for port in POD_PORTS),
    ]
    engine = _containers(build_deployment(_gateway(listeners), None, SETTINGS))["engine"]
    assert [p["containerPort"] for p in engine["ports"]] == [80, ENGINE_READY_PORT]
    assert [p["port"] for p in build_service(_gateway(listeners), None)["spec"]["ports"]] == [80]
    with pytest.raises(WorkloadError, match="no listener the engine can serve"):
        build_service(_gateway(listeners[1:]), None)


def test_default_service() -> None:
    listeners = [
        {"name": "http", "port": 80, "protocol": "HTTP"},
        {"name": "shop", "port": 443, "protocol": "HTTPS", "hostname": "shop.example.com"},
        {"name": "api", "port": 443, "protocol": "HTTPS", "hostname": "api.example.com"},
    ]
    service = build_service(_gateway(listeners), None)
    assert (service["apiVersion"], service["kind"]) == ("v1", "Service")
    assert service["metadata"]["name"] == "web-airlock"
    assert service["metadata"]["ownerReferences"][0]["uid"] == "1234-abcd"
    assert "annotations" not in service["metadata"]
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": selector_labels(_gateway()),
        "ports": [
            {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
            {"name": "shop", "port": 443, "targetPort": 443, "protocol": "TCP"},
        ],
    }
    # The pods listen where the Service sends traffic (and where kubelet probes them).
    engine = _containers(build_deployment(_gateway(listeners), None, SETTINGS))["engine"]
    assert [p["containerPort"] for p in engine["ports"]] == [80, 443, ENGINE_READY_PORT]


def test_service_port_names_are_dns_labels() -> None:
    listeners = [
        {"name": "port-443", "port": 80, "protocol": "HTTP"},
        {"name": "shop.example.com", "port": 443, "protocol": "HTTPS"},
        {"name": "x" * 64, "port": 8443, "protocol": "HTTPS"},
    ]
    ports = build_service(_gateway(listeners), None)["spec"]["ports"]
    assert [p["name"] for p in ports] == ["port-443", "port-443-2", "port-8443"]


def test_load_balancer_service() -> None:
    params = _service_params(
        {
            "type": "LoadBalancer",
            "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
            "externalTrafficPolicy": "Local",
            "loadBalancerClass": "example.com/lb",
            "allocateLoadBalancerNodePorts": False,
            "trafficDistribution": "PreferClose",
        }
    )
    service = build_service(_gateway(), params)
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"
    }
    spec = service["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerClass"] == "example.com/lb"
    assert spec["allocateLoadBalancerNodePorts"] is False
    assert spec["trafficDistribution"] == "PreferClose"


def test_node_port_service_with_session_affinity() -> None:
    params = _service_params(
        {
            "type": "NodePort",
            "externalTrafficPolicy": "Cluster",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
        }
    )
    spec = build_service(_gateway(), params)["spec"]
    assert spec["type"] == "NodePort"
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["sessionAffinity"] == "ClientIP"
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    assert "loadBalancerClass" not in spec


# --- against the API server (no kubelet: pods are created but never run) -----------------------

FULL_PARAMETERS = {
    "kubernetes": {
        "deployment": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "imagePullSecrets": [{"name": "registry"}],
            "engineContainer": {
                "resources": {"requests": {"cpu": "200m"}, "limits": {"memory": "1Gi"}},
                "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}},
                "volumeMounts": [{"name": "geoip", "mountPath": "/etc/geoip", "readOnly": True}],
            },
            "volumes": [{"name": "geoip", "configMap": {"name": "geoip"}}],
            "placement": {
                "nodeSelector": {"pool": "edge"},
                "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                "topologySpreadConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}
                ],
            },
        },
        "service": {
            "type": "LoadBalancer",
            "annotations": {"example.com/lb": "internal"},
            "externalTrafficPolicy": "Local",
            "allocateLoadBalancerNodePorts": False,
            "loadBalancerClass": "example.com/lb",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "trafficDistribution": "PreferSameZone",
        },
    },
    "logging": {"level": "warn"},
}


@pytest.fixture
def kube(control_plane: ControlPlane) -> Iterator[Kube]:
    api = load_client(control_plane.kubeconfig)
    yield Kube(api)
    api.close()


def _real_gateway(kube: Kube, ns: str) -> dict[str, Any]:
    # A Gateway that exists, so that the owner references point at a real uid.
    return kube.apply(
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "gatewayClassName": "airlock",
                "listeners": [
                    {"name": "http", "port": 80, "protocol": "HTTP"},
                    {"name": "https", "port": 443, "protocol": "HTTP"},
                ],
            },
        }
    )


def _create(cp: ControlPlane, path: str, body: dict[str, Any]) -> list[str]:
    """Creates with unknown fields as errors; returns the server's warnings."""
    response = cp.api.post(path, params={"fieldValidation": "Strict"}, json=body)
    assert response.status_code == 201, response.text
    return response.headers.get_list("warning")


def test_api_server_accepts_the_workloads(
    control_plane: ControlPlane,
    namespace: str,
    kube: Kube,
) -> None:
    # Pod Security Admission warns about anything the `restricted` standard forbids.
    control_plane.api.patch(
        f"/api/v1/namespaces/{namespace}",
        headers={"Content-Type": "application/merge-patch+json"},
        json={"metadata": {"labels": {"pod-security.kubernetes.io/warn": "restricted"}}},
    ).raise_for_status()
    gateway = _real_gateway(kube, namespace)
    parameters = _params(FULL_PARAMETERS)
    deployment = build_deployment(gateway, parameters, SETTINGS)
    service = build_service(gateway, parameters)

    warnings = _create(
        control_plane, f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment
    )
    warnings += _create(control_plane, f"/api/v1/namespaces/{namespace}/services", service)
    assert warnings == []

    # The controller manager turns the Deployment into pods: the template is a valid Pod.
    name = deployment["metadata"]["name"]
    selector = ",".join(f"{k}={v}" for k, v in selector_labels(gateway).items())

    def pods() -> list[dict[str, Any]] | None:
        found = control_plane.api.get(
            f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector}
        ).json()["items"]
        return found if len(found) == 2 else None

    created = wait_for(pods, "gateway pods")
    assert {p["spec"]["containers"][0]["name"] for p in created} == {"engine"}
    # Kept by the API server (a field of a disabled feature would be dropped).
    assert {
        c["lifecycle"]["preStop"]["sleep"]["seconds"]
        for p in created
        for c in p["spec"]["containers"]
    } == {5}

    # Owned by the Gateway: deleting it deletes them (garbage collection).
    assert kube.delete(GATEWAY_API, "Gateway", "web", namespace)
    wait_for(
        lambda: (
            kube.get("apps/v1", "Deployment", name, namespace) is None
            and kube.get("v1", "Service", name, namespace) is None
        ),
        "garbage collection of the Deployment and the Service",
        # The collector watches a newly installed kind (Gateway) only from its next resource
        # sync, every 30 s: only a hang guard.
        timeout=180,
    )


def test_unset_replicas_survive_later_applies(
    control_plane: ControlPlane,
    namespace: str,
    kube: Kube,
) -> None:
    gateway = _real_gateway(kube, namespace)
    # As the operator creates a Deployment (workloads module doc).
    created = build_deployment(gateway, None, SETTINGS, creating=True)
    kube.apply(created)
    kube.apply(replicas_claim(created), field_manager=REPLICAS_FIELD_MANAGER)
    name, path = created["metadata"]["name"], f"/apis/apps/v1/namespaces/{namespace}/deployments"

    def replicas() -> int:
        live = kube.get("apps/v1", "Deployment", name, namespace)
        assert live is not None
        return int(live["spec"]["replicas"])

    # Without the claim this apply would reset the count to Kubernetes' default of 1.
    kube.apply(build_deployment(gateway, None, SETTINGS, creating=False))
    assert replicas() == 2

    # An autoscaler scales through the scale subresource; the operator leaves its count alone.
    control_plane.api.patch(
        f"{path}/{name}/scale",
        headers={"Content-Type": "application/merge-patch+json"},
        json={"spec": {"replicas": 5}},
    ).raise_for_status()
    kube.apply(build_deployment(gateway, None, SETTINGS, creating=False))
    assert replicas() == 5

    # A count in the parameters wins; claimed as well, it outlives its removal from them.
    explicit = build_deployment(gateway, _deployment_params({"replicas": 3}), SETTINGS)
    kube.apply(explicit)
    kube.apply(replicas_claim(explicit), field_manager=REPLICAS_FIELD_MANAGER)
    assert replicas() == 3
    kube.apply(build_deployment(gateway, None, SETTINGS, creating=False))
    assert replicas() == 3
