"""Small builders of Kubernetes objects for the operator's pure tests."""

from __future__ import annotations

from typing import Any

from airlock_operator.settings import CONTROLLER_NAME
from airlock_operator.world import World

GW = "gateway.networking.k8s.io/v1"
MG = "microgateway.airlock.com/v1alpha1"


def obj(api: str, kind: str, name: str, namespace: str = "", **fields: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "generation": fields.pop("generation", 1),
        "creationTimestamp": fields.pop("created", "2026-01-01T00:00:00Z"),
    }
    if namespace:
        metadata["namespace"] = namespace
    if "labels" in fields:
        metadata["labels"] = fields.pop("labels")
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **fields}


def gateway_class(name: str = "airlock", **spec: Any) -> dict[str, Any]:
    return obj(GW, "GatewayClass", name, spec={"controllerName": CONTROLLER_NAME, **spec})


def gateway(name: str = "gw", namespace: str = "apps", listeners: list | None = None, **spec: Any):
    listeners = listeners or [{"name": "http", "port": 8080, "protocol": "HTTP"}]
    return obj(
        GW,
        "Gateway",
        name,
        namespace,
        spec={"gatewayClassName": "airlock", "listeners": listeners, **spec},
    )


def route(
    name: str = "web",
    namespace: str = "apps",
    parents: list | None = None,
    rules: list | None = None,
    **spec: Any,
) -> dict[str, Any]:
    parents = parents if parents is not None else [{"name": "gw", "namespace": "apps"}]
    rules = rules if rules is not None else [{"backendRefs": [{"name": "backend", "port": 80}]}]
    created = spec.pop("created", "2026-01-01T00:00:00Z")
    return obj(
        GW,
        "HTTPRoute",
        name,
        namespace,
        created=created,
        spec={"parentRefs": parents, "rules": rules, **spec},
    )


def service(name: str = "backend", namespace: str = "apps", port: int = 80, target: int = 8000):
    return obj(
        "v1",
        "Service",
        name,
        namespace,
        spec={
            "ports": [{"name": "http", "port": port, "targetPort": target}],
            "clusterIP": "10.0.0.9",
        },
    )


def endpoint_slice(
    service_name: str = "backend",
    namespace: str = "apps",
    addresses: tuple[str, ...] = ("127.0.0.1",),
    port: int = 8000,
) -> dict[str, Any]:
    return obj(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        f"{service_name}-x",
        namespace,
        labels={"kubernetes.io/service-name": service_name},
        addressType="IPv4",
        ports=[{"name": "http", "port": port}],
        endpoints=[{"addresses": list(addresses), "conditions": {"ready": True}}],
    )


def policy(kind: str, name: str, namespace: str = "apps", created: str | None = None, **spec: Any):
    extra = {"created": created} if created else {}
    return obj(MG, kind, name, namespace, spec=spec, **extra)


def world_of(*objects: dict[str, Any]) -> World:
    world = World()
    for item in objects:
        world.put(item["kind"], item)
    return world


def basic_world(*extra: dict[str, Any]) -> World:
    """A class, a Gateway, a route to a Service with one endpoint, plus `extra`."""
    return world_of(gateway_class(), gateway(), route(), service(), endpoint_slice(), *extra)


def condition(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(c for c in conditions if c["type"] == kind)
