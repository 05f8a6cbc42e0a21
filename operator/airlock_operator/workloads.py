"""The Deployment and Service the operator runs for each Gateway, as plain dicts ready for
server-side apply. Pure functions: no cluster access.

Both are named `workload_name(gateway)` (`<gateway>-airlock`), live in the Gateway's namespace
and are owned by the Gateway, so deleting the Gateway deletes them. A pod runs two containers:
`engine` (Envoy, its static bootstrap from `build_engine_bootstrap`; everything else arrives over
xDS) and `sidecar` (the filter engine behind ext_proc), talking over unix sockets in a shared
emptyDir. The pod is ready when Envoy's readiness listener says so: Envoy has its configuration
and health-checks every sidecar worker (see `build_ready_listener`).

Replicas: `kubernetes.deployment.replicas` when set. When unset, the Gateway starts with
GATEWAY_DEFAULT_REPLICAS and from then on whatever a HorizontalPodAutoscaler (or a user) sets.
Server-side apply resets a field its last manager stops applying (a Deployment to 1 replica),
so an unset count needs an owner besides the operator's own manager: at creation the operator
applies `build_deployment(..., creating=True)` and then `replicas_claim(deployment)` with
REPLICAS_FIELD_MANAGER, a manager that owns nothing else; afterwards it applies
`build_deployment(..., creating=False)`, which leaves replicas out, and the count stays until an
HPA or a user changes it. Claiming whenever the Deployment carries a count (also one set in the
parameters) keeps a count that is later unset in the parameters, instead of falling back to 1.

Gateway.spec.addresses are not rendered: they depend on the Service type and the environment
(loadBalancerIP, externalIPs), so the caller adds them to the Service if it supports them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from airlock_filters.resources import GATEWAY_DEFAULT_REPLICAS, SPECS
from airlock_microgateway.sidecar import socket_paths
from airlock_operator.engine_bootstrap import READY_PATH, build_engine_bootstrap
from airlock_operator.settings import (
    BOOTSTRAP_MOUNT,
    BOOTSTRAP_SECRET,
    ENGINE_ADMIN_PORT,
    ENGINE_READY_PORT,
    FIELD_MANAGER,
    POD_PORTS,
    SIDECAR_METRICS_PORT,
    SOCKET_DIR,
    Settings,
    node_id,
)

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
ENGINE_CONTAINER = "engine"
SIDECAR_CONTAINER = "sidecar"
# Any non-root id: set explicitly because runAsNonRoot alone fails for images whose USER is
# root or a name (the Envoy image). Image files are world-readable, the Secret via fsGroup.
RUN_AS_USER = 65532
REPLICAS_FIELD_MANAGER = f"{FIELD_MANAGER}-replicas"
# The scheduler should know the sidecar is there; its RSS is about 200 MiB under load.
SIDECAR_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}}
TMP_DIR = "/tmp"
# A terminating pod keeps serving this long before its containers get SIGTERM: Services and load
# balancers take a moment to stop sending it traffic, and a sidecar that stopped at once would
# fail those requests closed. Then the sidecar drains (10 s), well within the default 30 s grace.
PRE_STOP = {"preStop": {"sleep": {"seconds": 5}}}

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# The label Gateway API implementations put on the objects they generate for a Gateway.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
APP_NAME = "airlock-microgateway-engine"

_SOCKETS_VOLUME = "airlock-sockets"
_BOOTSTRAP_VOLUME = "airlock-bootstrap"
_TMP_VOLUME = "airlock-tmp"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUFFIX = "-airlock"


class WorkloadError(ValueError):
    """A Gateway or GatewayParameters the workloads cannot be built from."""


# --- names, labels, ownership ---------------------------------------------------------------


def workload_name(gateway_name: str) -> str:
    """`<gateway>-airlock`, the name of the Deployment and the Service. A Service name must be
    a DNS-1035 label of at most 63 characters, a Gateway name need not be: longer or dotted
    names are shortened and made unique with a hash of the full name."""
    name = gateway_name + _SUFFIX
    if len(name) <= 63 and _DNS_1035_LABEL.match(name):
        return name
    digest = hashlib.sha256(gateway_name.encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", gateway_name.lower())[:40].strip("-")
    if not stem[:1].isalpha():
        stem = "gw-" + stem
    return f"{stem}-{digest}{_SUFFIX}"


def _metadata(gateway: dict[str, Any]) -> tuple[str, str, str]:
    metadata = gateway.get("metadata") if isinstance(gateway, dict) else None
    if not isinstance(metadata, dict):
        raise WorkloadError("Gateway has no metadata")
    values = [metadata.get(key) for key in ("name", "namespace", "uid")]
    missing = [k for k, v in zip(("name", "namespace", "uid"), values, strict=True) if not v]
    if missing:
        raise WorkloadError(f"Gateway metadata lacks {', '.join(missing)}")
    return str(values[0]), str(values[1]), str(values[2])


def selector_labels(gateway: dict[str, Any]) -> dict[str, str]:
    """The labels that select a Gateway's pods (immutable in a Deployment: keep them stable)."""
    name, _, _ = _metadata(gateway)
    return {NAME_LABEL: APP_NAME, INSTANCE_LABEL: workload_name(name)}


def workload_labels(gateway: dict[str, Any]) -> dict[str, str]:
    """Labels of the Deployment, its pods and the Service."""
    name, _, _ = _metadata(gateway)
    labels = {**selector_labels(gateway), MANAGED_BY_LABEL: FIELD_MANAGER}
    # A label value has at most 63 characters; longer names are still found by instance.
    if len(name) <= 63:
        labels[GATEWAY_NAME_LABEL] = name
    return labels


def owner_reference(gateway: dict[str, Any]) -> dict[str, Any]:
    name, _, uid = _metadata(gateway)
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "Gateway",
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _object_metadata(gateway: dict[str, Any]) -> dict[str, Any]:
    name, namespace, _ = _metadata(gateway)
    return {
        "name": workload_name(name),
        "namespace": namespace,
        "labels": workload_labels(gateway),
        "ownerReferences": [owner_reference(gateway)],
    }


def listener_ports(gateway: dict[str, Any]) -> list[tuple[int, str]]:
    """(port, listener name) per distinct port, in listener order: listeners may share a port
    (by hostname), a Service port may not repeat. The pod's own ports are left out: their
    listeners are not accepted (PortUnavailable)."""
    listeners = (gateway.get("spec") or {}).get("listeners") or []
    ports: dict[int, str] = {}
    for i, listener in enumerate(listeners):
        port = listener.get("port") if isinstance(listener, dict) else None
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise WorkloadError(f"spec.listeners[{i}].port: must be 1 to 65535, got {port!r}")
        if port not in POD_PORTS:
            ports.setdefault(port, str(listener.get("name") or ""))
    if not ports:
        raise WorkloadError("Gateway has no listener the engine can serve")
    return list(ports.items())


# --- GatewayParameters ------------------------------------------------------------------------


def _load(parameters: dict[str, Any] | None) -> dict[str, Any]:
    # Loading again is harmless for a filled spec and fills a partial one, with a clear error
    # for a bad one (the API server validates the same schema, but a caller may skip it).
    loaded: dict[str, Any] = SPECS["GatewayParameters"].load(parameters or {}, "spec")
    return loaded


# --- Deployment -------------------------------------------------------------------------------


def _hardened(add_capabilities: Sequence[str] = ()) -> dict[str, Any]:
    capabilities: dict[str, Any] = {"drop": ["ALL"]}
    if add_capabilities:
        capabilities["add"] = list(add_capabilities)
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": capabilities,
    }


def _shared_mounts() -> list[dict[str, Any]]:
    return [
        {"name": _SOCKETS_VOLUME, "mountPath": SOCKET_DIR},
        {"name": _BOOTSTRAP_VOLUME, "mountPath": BOOTSTRAP_MOUNT, "readOnly": True},
    ]


def _engine_container(
    gateway: dict[str, Any], deployment: dict[str, Any], level: str, settings: Settings
) -> dict[str, Any]:
    name, namespace, _ = _metadata(gateway)
    bootstrap = build_engine_bootstrap(
        settings,
        node_id(namespace, name),
        socket_paths(SOCKET_DIR, settings.sidecar_workers),
        tls_dir=BOOTSTRAP_MOUNT,
        admin_port=ENGINE_ADMIN_PORT,
        ready_port=ENGINE_READY_PORT,
    )
    engine = deployment.get("engineContainer") or {}
    add = ((engine.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
    return {
        "name": ENGINE_CONTAINER,
        "image": settings.engine_image,
        # The command, not the image's entrypoint script, which would switch users itself.
        "command": ["envoy"],
        "args": [
            "--config-yaml",
            json.dumps(bootstrap, sort_keys=True, separators=(",", ":")),
            "--disable-hot-restart",
            "--log-level",
            level,
        ],
        "ports": [
            *({"containerPort": port, "protocol": "TCP"} for port, _ in listener_ports(gateway)),
            {"name": "ready", "containerPort": ENGINE_READY_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {
            "httpGet": {"path": READY_PATH, "port": "ready"},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
        },
        "resources": engine.get("resources") or {},
        "lifecycle": PRE_STOP,
        "securityContext": _hardened(add),
        "volumeMounts": [*_shared_mounts(), *(engine.get("volumeMounts") or [])],
    }


def _sidecar_container(gateway: dict[str, Any], settings: Settings) -> dict[str, Any]:
    name, namespace, _ = _metadata(gateway)
    return {
        "name": SIDECAR_CONTAINER,
        "image": settings.sidecar_image,
        "command": ["airlock-microgateway"],
        "args": [
            "sidecar",
            "--socket-dir",
            SOCKET_DIR,
            "--workers",
            str(settings.sidecar_workers),
            "--operator",
            f"{settings.xds_host}:{settings.xds_port}",
            "--node-id",
            node_id(namespace, name),
            "--tls-dir",
            BOOTSTRAP_MOUNT,
            "--metrics",
            f"0.0.0.0:{SIDECAR_METRICS_PORT}",
        ],
        # The compiled-rules cache would go to $HOME, on the read-only root filesystem.
        "env": [{"name": "AIRLOCK_FILTERS_CACHE_DIR", "value": f"{TMP_DIR}/airlock-filters"}],
        "ports": [{"name": "metrics", "containerPort": SIDECAR_METRICS_PORT, "protocol": "TCP"}],
        "resources": SIDECAR_RESOURCES,
        "lifecycle": PRE_STOP,
        "securityContext": _hardened(),
        # /tmp: the metrics of the workers and the rules cache.
        "volumeMounts": [*_shared_mounts(), {"name": _TMP_VOLUME, "mountPath": TMP_DIR}],
    }


def _volumes(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    ours = [
        {"name": _SOCKETS_VOLUME, "emptyDir": {}},
        {
            "name": _BOOTSTRAP_VOLUME,
            # Group-readable only: the pod's fsGroup, not every user of the node.
            "secret": {"secretName": BOOTSTRAP_SECRET, "defaultMode": 0o440},
        },
        {"name": _TMP_VOLUME, "emptyDir": {}},
    ]
    theirs = deployment.get("volumes") or []
    names = {v["name"] for v in ours}
    for i, volume in enumerate(theirs):
        if volume["name"] in names:
            raise WorkloadError(
                f"spec.kubernetes.deployment.volumes[{i}].name: {volume['name']!r} is reserved"
            )
    known = names | {v["name"] for v in theirs}
    reserved_paths = {SOCKET_DIR, BOOTSTRAP_MOUNT}
    engine = deployment.get("engineContainer") or {}
    for i, mount in enumerate(engine.get("volumeMounts") or []):
        path = f"spec.kubernetes.deployment.engineContainer.volumeMounts[{i}]"
        if mount["name"] not in known:
            raise WorkloadError(f"{path}.name: no volume {mount['name']!r} in volumes")
        if mount["mountPath"].rstrip("/") in reserved_paths:
            raise WorkloadError(f"{path}.mountPath: {mount['mountPath']!r} is reserved")
    return [*ours, *theirs]


def _topology_spread(
    constraints: list[dict[str, Any]], selector: dict[str, str]
) -> list[dict[str, Any]]:
    # Without a label selector a constraint counts no pods; the Gateway's own pods are meant.
    return [
        c if "labelSelector" in c else {**c, "labelSelector": {"matchLabels": selector}}
        for c in constraints
    ]


def build_deployment(
    gateway: dict[str, Any],
    parameters: dict[str, Any] | None,
    settings: Settings,
    *,
    creating: bool = True,
) -> dict[str, Any]:
    """The apps/v1 Deployment of a Gateway. `parameters` is the GatewayParameters spec (None or
    empty: all defaults). `creating=False` leaves an unset replica count out (module doc)."""
    spec = _load(parameters)
    deployment = spec["kubernetes"]["deployment"]
    selector = selector_labels(gateway)
    pod: dict[str, Any] = {
        "automountServiceAccountToken": deployment["automountServiceAccountToken"],
        # The engines read nothing from Service environment variables.
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
            # Lets the non-root engine bind listener ports below 1024 without a capability.
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
        },
        "containers": [
            _engine_container(gateway, deployment, spec["logging"]["level"], settings),
            _sidecar_container(gateway, settings),
        ],
        "volumes": _volumes(deployment),
    }
    if deployment.get("imagePullSecrets"):
        pod["imagePullSecrets"] = deployment["imagePullSecrets"]
    placement = deployment.get("placement") or {}
    for key in ("nodeSelector", "affinity", "tolerations"):
        if placement.get(key):
            pod[key] = placement[key]
    if placement.get("topologySpreadConstraints"):
        pod["topologySpreadConstraints"] = _topology_spread(
            placement["topologySpreadConstraints"], selector
        )

    body: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": workload_labels(gateway)}, "spec": pod},
    }
    if "replicas" in deployment:
        body["replicas"] = deployment["replicas"]
    elif creating:
        body["replicas"] = GATEWAY_DEFAULT_REPLICAS
    if deployment.get("strategy"):
        body["strategy"] = deployment["strategy"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _object_metadata(gateway),
        "spec": body,
    }


def replicas_claim(deployment: dict[str, Any], replicas: int | None = None) -> dict[str, Any]:
    """The apply body through which REPLICAS_FIELD_MANAGER owns the replica count (`replicas`,
    else the Deployment's, else the default), so that later applies of the Deployment without
    a count leave it alone (module doc)."""
    metadata = deployment["metadata"]
    if replicas is None:
        replicas = deployment["spec"].get("replicas", GATEWAY_DEFAULT_REPLICAS)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
        "spec": {"replicas": replicas},
    }


# --- Service ----------------------------------------------------------------------------------


def _port_name(listener: str, port: int, taken: set[str]) -> str:
    # Service port names are DNS labels; listener names may be longer or dotted.
    name = listener if len(listener) <= 63 and _DNS_LABEL.match(listener) else f"port-{port}"
    if name in taken:
        name = f"port-{port}"
    suffix = 1
    while name in taken:
        suffix += 1
        name = f"port-{port}-{suffix}"
    taken.add(name)
    return name


def build_service(gateway: dict[str, Any], parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The v1 Service in front of a Gateway's pods: one TCP port per distinct listener port."""
    service = _load(parameters)["kubernetes"]["service"]
    metadata = _object_metadata(gateway)
    if service.get("annotations"):
        metadata["annotations"] = dict(service["annotations"])
    taken: set[str] = set()
    ports = [
        {
            "name": _port_name(listener, port, taken),
            "port": port,
            "targetPort": port,
            "protocol": "TCP",
        }
        for port, listener in listener_ports(gateway)
    ]
    spec: dict[str, Any] = {
        "type": service["type"],
        "selector": selector_labels(gateway),
        "ports": ports,
    }
    for key in (
        "externalTrafficPolicy",
        "loadBalancerClass",
        "allocateLoadBalancerNodePorts",
        "sessionAffinity",
        "sessionAffinityConfig",
        "trafficDistribution",
    ):
        if key in service:
            spec[key] = service[key]
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
