"""GatewayClasses and Gateways of our controller: acceptance, parameters and listeners.

Pure: reads a World, returns what each object's status should say and the listeners an
engine serves. Reasons are the ones the Gateway API specification defines.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from airlock_filters.policy import PolicyError
from airlock_filters.resources import SPECS
from airlock_operator.conditions import Condition
from airlock_operator.refs import (
    GATEWAY_GROUP,
    labels_match,
    ref_group,
    ref_kind,
    reference_granted,
)
from airlock_operator.settings import CONTROLLER_NAME, GROUP, POD_PORTS
from airlock_operator.world import World, generation, meta, name_of, namespace_of, spec

SUPPORTED_PROTOCOLS = ("HTTP", "HTTPS")
ROUTE_KINDS = ({"group": GATEWAY_GROUP, "kind": "HTTPRoute"},)


@dataclass
class Parameters:
    spec: dict[str, Any] | None = None  # GatewayParameters spec, defaults filled
    error: str | None = None  # why the reference is unusable

    @property
    def filled(self) -> dict[str, Any]:
        return self.spec if self.spec is not None else SPECS["GatewayParameters"].load({}, "spec")


@dataclass
class GatewayClassState:
    obj: dict[str, Any]
    parameters: Parameters
    conditions: list[Condition]

    @property
    def accepted(self) -> bool:
        return self.parameters.error is None


@dataclass
class Certificate:
    cert_pem: str
    key_pem: str


@dataclass
class ListenerState:
    name: str
    port: int
    protocol: str
    hostname: str | None
    allowed_routes: dict[str, Any]
    certificates: list[Certificate] = field(default_factory=list)
    supported_kinds: list[dict[str, str]] = field(default_factory=list)
    accepted: Condition | None = None
    resolved: Condition | None = None
    conflicted: Condition | None = None
    attached_routes: int = 0

    @property
    def usable(self) -> bool:
        """Whether routes can attach and the engine serves it."""
        return bool(
            self.accepted
            and self.accepted.status
            and self.resolved
            and self.resolved.status
            and self.conflicted
            and not self.conflicted.status
        )

    def conditions(self) -> list[Condition]:
        assert self.accepted and self.resolved and self.conflicted
        programmed = (
            Condition("Programmed", True, "Programmed", "The listener is configured on the engine.")
            if self.usable
            else Condition("Programmed", False, "Invalid", "The listener is not served.")
        )
        return [self.accepted, self.conflicted, self.resolved, programmed]


@dataclass
class GatewayState:
    obj: dict[str, Any]
    parameters: Parameters
    listeners: list[ListenerState]
    accepted: Condition

    @property
    def namespace(self) -> str:
        return namespace_of(self.obj)

    @property
    def name(self) -> str:
        return name_of(self.obj)

    @property
    def is_accepted(self) -> bool:
        return bool(self.accepted.status)


def load_parameters(world: World, namespace: str, name: str, where: str) -> Parameters:
    found = world.get("GatewayParameters", namespace, name)
    if found is None:
        return Parameters(error=f"{where}: GatewayParameters {namespace}/{name} not found")
    try:
        return Parameters(spec=SPECS["GatewayParameters"].load(spec(found), "spec"))
    except PolicyError as exc:
        return Parameters(error=f"{where}: GatewayParameters {namespace}/{name}: {exc}")


def _parameters_ref(world: World, ref: dict[str, Any] | None, namespace: str | None, where: str):
    if not ref:
        return Parameters()
    if ref_group(ref, "") != GROUP or ref_kind(ref, "") != "GatewayParameters":
        return Parameters(
            error=f"{where}: only {GROUP}/GatewayParameters is supported, "
            f"got {ref.get('group')}/{ref.get('kind')}"
        )
    ns = namespace if namespace is not None else ref.get("namespace")
    if not ns:
        return Parameters(error=f"{where}: namespace is required for GatewayParameters")
    return load_parameters(world, str(ns), str(ref.get("name")), where)


def gateway_classes(world: World) -> dict[str, GatewayClassState]:
    """Our GatewayClasses by name, with their Accepted condition."""
    result = {}
    for obj in world.all("GatewayClass"):
        if spec(obj).get("controllerName") != CONTROLLER_NAME:
            continue
        parameters = _parameters_ref(
            world, spec(obj).get("parametersRef"), None, "spec.parametersRef"
        )
        if parameters.error:
            accepted = Condition("Accepted", False, "InvalidParameters", parameters.error)
        else:
            accepted = Condition("Accepted", True, "Accepted", "Handled by Airlock Microgateway.")
        result[name_of(obj)] = GatewayClassState(obj, parameters, [accepted])
    return result


def _certificates(
    world: World, gateway: dict[str, Any], tls: dict[str, Any]
) -> tuple[list[Certificate], Condition]:
    namespace = namespace_of(gateway)
    certificates = []
    refs = tls.get("certificateRefs") or []
    if not refs:
        return [], Condition(
            "ResolvedRefs",
            False,
            "InvalidCertificateRef",
            "An HTTPS listener needs certificateRefs.",
        )
    for ref in refs:
        target_ns = ref.get("namespace") or namespace
        name = ref.get("name", "")
        if ref_group(ref, "") != "" or ref_kind(ref, "Secret") != "Secret":
            return [], Condition(
                "ResolvedRefs",
                False,
                "InvalidCertificateRef",
                f"certificateRef {name}: only core Secrets are supported",
            )
        if not reference_granted(
            world, GATEWAY_GROUP, "Gateway", namespace, "", "Secret", target_ns, name
        ):
            return [], Condition(
                "ResolvedRefs",
                False,
                "RefNotPermitted",
                f"Secret {target_ns}/{name} is in another namespace and no ReferenceGrant "
                "allows it",
            )
        secret = world.get("Secret", target_ns, name)
        data = (secret or {}).get("data") or {}
        if secret is None or "tls.crt" not in data or "tls.key" not in data:
            return [], Condition(
                "ResolvedRefs",
                False,
                "InvalidCertificateRef",
                f"Secret {target_ns}/{name} not found or without tls.crt and tls.key",
            )
        try:
            certificates.append(
                Certificate(
                    base64.b64decode(data["tls.crt"]).decode(),
                    base64.b64decode(data["tls.key"]).decode(),
                )
            )
        except (ValueError, UnicodeDecodeError):
            return [], Condition(
                "ResolvedRefs",
                False,
                "InvalidCertificateRef",
                f"Secret {target_ns}/{name} does not hold PEM data",
            )
    return certificates, Condition("ResolvedRefs", True, "ResolvedRefs", "References resolved.")


def _listener(world: World, gateway: dict[str, Any], raw: dict[str, Any]) -> ListenerState:
    listener = ListenerState(
        name=str(raw.get("name", "")),
        port=int(raw.get("port", 0)),
        protocol=str(raw.get("protocol", "")),
        hostname=raw.get("hostname") or None,
        allowed_routes=raw.get("allowedRoutes") or {},
    )
    kinds = listener.allowed_routes.get("kinds")
    if kinds:
        listener.supported_kinds = [
            {"group": ref_group(k, GATEWAY_GROUP), "kind": str(k.get("kind"))}
            for k in kinds
            if ref_group(k, GATEWAY_GROUP) == GATEWAY_GROUP and k.get("kind") == "HTTPRoute"
        ]
    else:
        listener.supported_kinds = [dict(k) for k in ROUTE_KINDS]
    listener.accepted = Condition("Accepted", True, "Accepted", "The listener is valid.")
    listener.resolved = Condition("ResolvedRefs", True, "ResolvedRefs", "References resolved.")
    if listener.protocol not in SUPPORTED_PROTOCOLS:
        listener.accepted = Condition(
            "Accepted",
            False,
            "UnsupportedProtocol",
            f"protocol {listener.protocol} is not supported (HTTP and HTTPS are)",
        )
        listener.supported_kinds = []
    elif listener.port in POD_PORTS:
        listener.accepted = Condition(
            "Accepted",
            False,
            "PortUnavailable",
            f"port {listener.port} is taken by {POD_PORTS[listener.port]} in the engine pod",
        )
    elif listener.protocol == "HTTPS":
        tls = raw.get("tls") or {}
        if tls.get("mode", "Terminate") != "Terminate":
            listener.accepted = Condition(
                "Accepted",
                False,
                "UnsupportedValue",
                "HTTPS listeners terminate TLS (mode Passthrough is not supported)",
            )
        else:
            listener.certificates, listener.resolved = _certificates(world, gateway, tls)
    if kinds and len(listener.supported_kinds) < len(kinds):
        listener.resolved = Condition(
            "ResolvedRefs",
            False,
            "InvalidRouteKinds",
            "only HTTPRoute can attach to this listener",
        )
    return listener


def _mark_conflicts(listeners: list[ListenerState]) -> None:
    for listener in listeners:
        same_port = [o for o in listeners if o is not listener and o.port == listener.port]
        if any(o.protocol != listener.protocol for o in same_port):
            listener.conflicted = Condition(
                "Conflicted",
                True,
                "ProtocolConflict",
                f"port {listener.port} is used with another protocol",
            )
        elif any(o.hostname == listener.hostname for o in same_port):
            listener.conflicted = Condition(
                "Conflicted",
                True,
                "HostnameConflict",
                f"another listener on port {listener.port} has the same hostname",
            )
        else:
            listener.conflicted = Condition("Conflicted", False, "NoConflicts", "No conflicts.")


def gateways(
    world: World, classes: dict[str, GatewayClassState]
) -> dict[tuple[str, str], GatewayState]:
    """Our Gateways by (namespace, name)."""
    result = {}
    for obj in world.all("Gateway"):
        gateway_class = classes.get(str(spec(obj).get("gatewayClassName", "")))
        if gateway_class is None:
            continue
        listeners = [_listener(world, obj, raw) for raw in spec(obj).get("listeners") or []]
        _mark_conflicts(listeners)
        infrastructure = spec(obj).get("infrastructure") or {}
        if infrastructure.get("parametersRef"):
            # A Gateway's own parameters replace its class's; they are not merged.
            parameters = _parameters_ref(
                world,
                infrastructure["parametersRef"],
                namespace_of(obj),
                "spec.infrastructure.parametersRef",
            )
        else:
            parameters = gateway_class.parameters
        usable = [listener for listener in listeners if listener.usable]
        if not gateway_class.accepted:
            accepted = Condition(
                "Accepted",
                False,
                "Invalid",
                f"GatewayClass {name_of(gateway_class.obj)} is not accepted",
            )
        elif parameters.error:
            accepted = Condition("Accepted", False, "InvalidParameters", parameters.error)
        elif spec(obj).get("addresses"):
            accepted = Condition(
                "Accepted",
                False,
                "UnsupportedAddress",
                "spec.addresses is not supported: the address comes from the Service",
            )
        elif not usable:
            accepted = Condition("Accepted", False, "ListenersNotValid", "No listener is valid.")
        elif len(usable) < len(listeners):
            accepted = Condition(
                "Accepted", True, "ListenersNotValid", "Some listeners are not valid."
            )
        else:
            accepted = Condition("Accepted", True, "Accepted", "The Gateway is accepted.")
        result[(namespace_of(obj), name_of(obj))] = GatewayState(
            obj, parameters, listeners, accepted
        )
    return result


def namespace_allowed(
    world: World, listener: ListenerState, gateway_namespace: str, route_namespace: str
) -> bool:
    namespaces = listener.allowed_routes.get("namespaces") or {}
    source = namespaces.get("from", "Same")
    if source == "All":
        return True
    if source == "Selector":
        found = world.get("Namespace", "", route_namespace)
        labels = dict(meta(found).get("labels") or {}) if found else {}
        labels.setdefault("kubernetes.io/metadata.name", route_namespace)
        return labels_match(namespaces.get("selector"), labels)
    return route_namespace == gateway_namespace


def observed(obj: dict[str, Any]) -> int:
    return generation(obj)
