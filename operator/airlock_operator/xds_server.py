"""The operator's configuration delivery: an ADS server (state of the world) over mTLS.

`ConfigCache` holds per node id the resources of each type; `XdsServer` streams them to the
engines (Envoy: clusters, listeners, route configurations) and to their sidecars (the policy
documents, POLICY_TYPE_URL). A node not in the cache gets nothing until it is set: an engine
keeps waiting (or keeps its last configuration) rather than being emptied by an operator that
has not yet worked out what it should get.

Protocol, per stream and type:
- a type is answered when first asked for, and when its resource names change (RDS);
- on a cache change, every subscribed type whose version changed is pushed, clusters before
  listeners before route configurations, as ADS requires so that nothing refers to a cluster
  or a route configuration Envoy does not have yet;
- versions are content hashes, so an unchanged set is never pushed again, and a NACKed version
  is not retried: the client keeps its last good configuration until the content changes, and
  the node's other clients, new ones and reconnecting ones get the last version a client ACKed.

Security: the client's certificate must be signed by the operator's CA, and its common name
(`engine.<namespace>`, see certificates) must name the namespace of every node id it asks for.
The server's own certificate is reissued from the CA when due, at the next handshake, without a
restart (grpc's dynamic server credentials ask on every new connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2, json_format, symbol_database
from google.protobuf.message import Message
from prometheus_client import Counter

from airlock_operator.certificates import (
    CertificateAuthority,
    CertificateError,
    LeafCertificate,
    issue_server_certificate,
    load_certificate,
    namespace_of,
    needs_renewal,
)
from airlock_operator.settings import POLICY_RESOURCE, POLICY_TYPE_URL, Settings

log = logging.getLogger(__name__)

_PREFIX = "type.googleapis.com/"
CLUSTER_TYPE = _PREFIX + cluster_pb2.Cluster.DESCRIPTOR.full_name
LISTENER_TYPE = _PREFIX + listener_pb2.Listener.DESCRIPTOR.full_name
ROUTE_TYPE = _PREFIX + route_pb2.RouteConfiguration.DESCRIPTOR.full_name
# Whatever is not named here goes last (the sidecar's policies).
PUSH_ORDER = (CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE)
CONTROL_PLANE = "airlock-microgateway-operator"
INVALID_ARGUMENT = 3  # google.rpc.Code, in a NACK's error_detail

PUSHES = Counter("airlock_operator_xds_pushes", "xDS responses sent", ["type"])
NACKS = Counter("airlock_operator_xds_nacks", "xDS responses rejected by a client", ["type"])


class XdsError(ValueError):
    """Resources that cannot be served; the message says which and why."""


def _short(type_url: str) -> str:
    return type_url.rsplit(".", 1)[-1]


def _resource_name(type_url: str, message: Message) -> str:
    if "name" in message.DESCRIPTOR.fields_by_name:
        name = str(getattr(message, "name", ""))
        if not name:
            raise XdsError(f"a {_short(type_url)} without a name")
        return name
    if type_url == POLICY_TYPE_URL:
        return POLICY_RESOURCE
    raise XdsError(f"{type_url}: resources of this type have no name")


@dataclass(frozen=True)
class TypeSnapshot:
    version: str
    resources: dict[str, any_pb2.Any]  # name -> packed resource

    @classmethod
    def build(cls, type_url: str, messages: Iterable[Message]) -> TypeSnapshot:
        resources: dict[str, any_pb2.Any] = {}
        for message in messages:
            if not isinstance(message, Message):
                raise XdsError(f"{type_url}: not a protobuf message: {type(message).__name__}")
            if _PREFIX + message.DESCRIPTOR.full_name != type_url:
                raise XdsError(f"{type_url}: got a {message.DESCRIPTOR.full_name}")
            name = _resource_name(type_url, message)
            if name in resources:
                raise XdsError(f"{type_url}: two resources named {name!r}")
            value = message.SerializeToString(deterministic=True)
            resources[name] = any_pb2.Any(type_url=type_url, value=value)
        digest = hashlib.sha256()
        for name in sorted(resources):
            digest.update(name.encode() + b"\0" + resources[name].value + b"\0")
        return cls(digest.hexdigest()[:16], resources)


@dataclass(frozen=True)
class Snapshot:
    types: dict[str, TypeSnapshot]
    # Per type whose current version a client rejected: the last version one accepted.
    fallback: dict[str, TypeSnapshot] = field(default_factory=dict)

    def of(self, type_url: str) -> TypeSnapshot:
        """What a client of the node gets for the type. A type the node has nothing of is an
        empty set: the client is told, and removes what it had (state of the world)."""
        found = self.fallback.get(type_url) or self.types.get(type_url)
        return found or TypeSnapshot.build(type_url, [])


@dataclass(eq=False)
class _Watcher:
    """A stream waiting for its node; the cache may be set from any thread."""

    loop: asyncio.AbstractEventLoop
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        # A closed loop raises: its stream is gone, nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.changed.set)


class ConfigCache:
    """The resources of every node, and the streams waiting for them. Thread-safe."""

    def __init__(self, on_accepted: Callable[[str], None] | None = None) -> None:
        # Told the node id whenever a client ACKs (the operator's Programmed status).
        self.on_accepted = on_accepted
        self._lock = threading.Lock()
        self._snapshots: dict[str, Snapshot] = {}
        self._watchers: dict[str, set[_Watcher]] = {}
        self._accepted: dict[str, dict[str, TypeSnapshot]] = {}  # node -> type -> last ACKed
        self._rejected: dict[str, dict[str, str]] = {}  # node -> type -> NACKed version

    def set(self, node_id: str, resources: Mapping[str, Iterable[Message]]) -> bool:
        """Replace the node's resources, the complete set: a type left out is served empty
        (its resources are removed from clients that subscribed to it). False, and nothing
        pushed, when no content changed. XdsError when a resource cannot be served."""
        snapshot = Snapshot({t: TypeSnapshot.build(t, ms) for t, ms in resources.items()})
        with self._lock:
            old = self._snapshots.get(node_id)
            if old is not None and _versions(old) == _versions(snapshot):
                return False
            self._snapshots[node_id] = snapshot
            watchers = list(self._watchers.get(node_id, ()))
        for watcher in watchers:
            watcher.notify()
        return True

    def remove(self, node_id: str) -> None:
        """Forget the node: its streams stay open and get nothing more."""
        with self._lock:
            self._snapshots.pop(node_id, None)
            self._accepted.pop(node_id, None)
            self._rejected.pop(node_id, None)

    def get(self, node_id: str) -> Snapshot | None:
        """What the node's clients are served: the current resources, except for a type whose
        current version a client rejected, of which the last accepted version is served (a
        new replica or a reconnect gets a configuration it can take, not the broken one)."""
        with self._lock:
            snapshot = self._snapshots.get(node_id)
            if snapshot is None:
                return None
            accepted = self._accepted.get(node_id, {})
            fallback = {
                t: accepted[t]
                for t, version in self._rejected.get(node_id, {}).items()
                if t in accepted and snapshot.of(t).version == version
            }
            return Snapshot(snapshot.types, fallback)

    def accepted(self, node_id: str, type_url: str, served: TypeSnapshot) -> None:
        with self._lock:
            self._accepted.setdefault(node_id, {})[type_url] = served
        if self.on_accepted is not None:
            self.on_accepted(node_id)

    def programmed(self, node_id: str) -> bool:
        """Whether the node's clients took its current configuration: every type the node has
        resources of was ACKed at its current version."""
        with self._lock:
            snapshot = self._snapshots.get(node_id)
            if snapshot is None:
                return False
            accepted = self._accepted.get(node_id, {})
            return all(
                t in accepted and accepted[t].version == current.version
                for t, current in snapshot.types.items()
                if current.resources
            )

    def rejected(self, node_id: str, type_url: str, version: str) -> None:
        with self._lock:
            self._rejected.setdefault(node_id, {})[type_url] = version

    def nodes(self) -> list[str]:
        with self._lock:
            return sorted(self._snapshots)

    def watch(self, node_id: str, watcher: _Watcher) -> None:
        """`watcher` is notified whenever the node's resources change."""
        with self._lock:
            self._watchers.setdefault(node_id, set()).add(watcher)

    def unwatch(self, node_id: str, watcher: _Watcher) -> None:
        with self._lock:
            watchers = self._watchers.get(node_id, set())
            watchers.discard(watcher)
            if not watchers:
                self._watchers.pop(node_id, None)


def _versions(snapshot: Snapshot) -> dict[str, str]:
    # An empty type and an absent one serve the same (empty) answer.
    return {t: s.version for t, s in snapshot.types.items() if s.resources}


def resource_from_dict(type_url: str, config: Mapping[str, Any]) -> Message:
    """A protobuf resource from its JSON-ready form (as `envoy_config` builds them), with the
    `@type` of every nested Any resolved; XdsError for an unknown type or a bad field."""
    full_name = type_url.removeprefix(_PREFIX)
    for name in {full_name, *_any_types(config)}:
        _register(name)
    message_class = symbol_database.Default().GetSymbol(full_name)
    try:
        return json_format.ParseDict(config, message_class())
    except json_format.ParseError as exc:
        raise XdsError(f"{_short(type_url)}: {exc}") from None


def _any_types(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, Mapping):
        if isinstance(value.get("@type"), str):
            found.add(value["@type"].removeprefix(_PREFIX))
        for item in value.values():
            found |= _any_types(item)
    elif isinstance(value, list):
        for item in value:
            found |= _any_types(item)
    return found


def _register(full_name: str) -> None:
    """Import the generated modules of the message's proto package (xds-protos lays them out
    by package), so the default descriptor pool knows it."""
    try:
        symbol_database.Default().GetSymbol(full_name)
        return
    except KeyError:
        pass
    package = full_name.rpartition(".")[0]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise XdsError(f"unknown message type {full_name}") from None
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if info.name.endswith("_pb2"):
            importlib.import_module(f"{package}.{info.name}")
    try:
        symbol_database.Default().GetSymbol(full_name)
    except KeyError:
        raise XdsError(f"unknown message type {full_name}") from None


class ServerTls:
    """The xDS server's certificate, from the operator's CA, renewed when due.

    grpc calls `fetch` before every TLS handshake; it answers a new configuration only when
    the certificate was renewed since the last call."""

    def __init__(
        self,
        ca: CertificateAuthority,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ca = ca
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self.leaf = issue_server_certificate(ca, settings, now=clock())
        self._handed_out: LeafCertificate | None = None

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        with self._lock:
            self._handed_out = self.leaf
            return grpc.ssl_server_certificate_configuration(
                [(self.leaf.key_pem, self.leaf.cert_pem)], root_certificates=self.ca.cert_pem
            )

    def renew(self) -> None:
        with self._lock:
            self.leaf = issue_server_certificate(self.ca, self.settings)
        log.info("xds server certificate renewed, serial %x", self.leaf.certificate.serial_number)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            now = self._clock()
            if needs_renewal(self.leaf.cert_pem, self.ca, self.settings.renewal_period, now):
                self.renew()
            if self._handed_out is self.leaf:
                return None
            return self.configuration()
        except Exception:  # grpc would refuse the handshake; keep serving the last one
            log.exception("xds server certificate renewal failed")
            return None

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self.configuration(), self.fetch, require_client_authentication=True
        )


@dataclass
class _TypeState:
    names: frozenset[str]  # empty: all (wildcard)
    sent: TypeSnapshot | None = None
    nonce: str | None = None

    @property
    def sent_version(self) -> str | None:
        return self.sent.version if self.sent is not None else None


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _Stream:
    """One client's ADS stream: what it subscribed to and what it was sent."""

    def __init__(self, cache: ConfigCache, context: grpc.aio.ServicerContext) -> None:
        self.cache = cache
        self.context = context
        self.node: str | None = None
        self.types: dict[str, _TypeState] = {}
        self.nonces = 0
        self.watcher = _Watcher(asyncio.get_running_loop())

    def identity(self) -> str:
        names = self.context.auth_context().get("x509_common_name") or [b""]
        return names[0].decode(errors="replace")

    def serial(self) -> str:
        """The client certificate's serial number (hex), to see which one an engine uses."""
        pems = self.context.auth_context().get("x509_pem_cert") or [b""]
        try:
            return f"{load_certificate(pems[0]).serial_number:x}"
        except CertificateError:
            return "unknown"

    def authorize(self, node_id: str) -> None:
        namespace, sep, gateway = node_id.partition("/")
        if not sep or not namespace or not gateway:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"node id {node_id!r} is not ns/name")
        identity = self.identity()
        if namespace_of(identity) != namespace:
            raise _Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"certificate {identity!r} may not ask for node {node_id!r}",
            )

    async def run(self) -> None:
        read = asyncio.ensure_future(self.context.read())
        changed = asyncio.ensure_future(self.watcher.changed.wait())
        try:
            while True:
                done, _ = await asyncio.wait({read, changed}, return_when=asyncio.FIRST_COMPLETED)
                if read in done:
                    request = read.result()
                    if request is grpc.aio.EOF:
                        return
                    await self.on_request(request)
                    read = asyncio.ensure_future(self.context.read())
                if changed in done:
                    self.watcher.changed.clear()
                    await self.push_changed()
                    changed = asyncio.ensure_future(self.watcher.changed.wait())
        finally:
            read.cancel()
            changed.cancel()
            if self.node is not None:
                self.cache.unwatch(self.node, self.watcher)

    async def on_request(self, request: discovery_pb2.DiscoveryRequest) -> None:
        node_id = request.node.id
        if self.node is None:
            if not node_id:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "the first request names no node")
            self.authorize(node_id)
            self.node = node_id
            self.cache.watch(node_id, self.watcher)
            log.info(
                "xds stream opened: node %s, certificate %s serial %s",
                node_id,
                self.identity(),
                self.serial(),
            )
        elif node_id and node_id != self.node:
            raise _Abort(grpc.StatusCode.PERMISSION_DENIED, "one stream serves one node")
        type_url = request.type_url
        if not type_url:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a request without type_url")
        state = self.types.get(type_url)
        names = frozenset(request.resource_names)
        if "*" in names:  # the explicit spelling of a wildcard subscription
            names = frozenset()
        if state is not None and request.response_nonce:
            if request.response_nonce != state.nonce:
                return  # answers a response that was superseded: the protocol says ignore
            self.acknowledged(type_url, state, request)
        if state is None:
            state = self.types[type_url] = _TypeState(names)
            await self.push(type_url, state, self.snapshot())
        elif names != state.names:
            state.names = names
            await self.push(type_url, state, self.snapshot())

    def acknowledged(
        self, type_url: str, state: _TypeState, request: discovery_pb2.DiscoveryRequest
    ) -> None:
        """An ACK or a NACK of the last response: the cache learns which versions clients
        take. Nothing is sent back: a NACKed version is not retried."""
        assert self.node is not None and state.sent is not None
        if not request.HasField("error_detail"):
            self.cache.accepted(self.node, type_url, state.sent)
            log.debug("xds ACK: node %s %s %s", self.node, _short(type_url), state.sent_version)
            return
        self.cache.rejected(self.node, type_url, state.sent.version)
        NACKS.labels(_short(type_url)).inc()
        log.warning(
            "xds NACK: node %s rejected %s version %s (keeps version %s): %s",
            self.node,
            _short(type_url),
            state.sent_version,
            request.version_info or "none",
            request.error_detail.message,
        )

    async def push_changed(self) -> None:
        snapshot = self.snapshot()  # one for all types: they must agree with each other
        for type_url in sorted(self.types, key=_order):
            state = self.types[type_url]
            if snapshot is not None and snapshot.of(type_url).version != state.sent_version:
                await self.push(type_url, state, snapshot)

    def snapshot(self) -> Snapshot | None:
        return self.cache.get(self.node) if self.node is not None else None

    async def push(self, type_url: str, state: _TypeState, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return  # not (yet) in the cache: the client waits
        current = snapshot.of(type_url)
        resources = [
            resource
            for name, resource in sorted(current.resources.items())
            if not state.names or name in state.names
        ]
        self.nonces += 1
        state.nonce = str(self.nonces)
        state.sent = current
        await self.context.write(
            discovery_pb2.DiscoveryResponse(
                version_info=current.version,
                resources=resources,
                type_url=type_url,
                nonce=state.nonce,
                control_plane=base_pb2.ControlPlane(identifier=CONTROL_PLANE),
            )
        )
        PUSHES.labels(_short(type_url)).inc()
        log.info(
            "xds push: node %s %s version %s, %d resources",
            self.node,
            _short(type_url),
            current.version,
            len(resources),
        )


def _order(type_url: str) -> int:
    return PUSH_ORDER.index(type_url) if type_url in PUSH_ORDER else len(PUSH_ORDER)


class _Service(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    def __init__(self, cache: ConfigCache) -> None:
        self.cache = cache

    async def StreamAggregatedResources(
        self, request_iterator: Any, context: grpc.aio.ServicerContext
    ) -> None:
        stream = _Stream(self.cache, context)
        try:
            await stream.run()
        except _Abort as refused:
            log.warning("xds stream refused (%s): %s", refused.code.name, refused.details)
            await context.abort(refused.code, refused.details)


# Both sides ping: a vanished engine's stream is closed, a vanished operator noticed.
SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # A port held by another server (a second operator, a stale one) is an error, not shared:
    # engines would be balanced onto whichever answers.
    ("grpc.so_reuseport", 0),
]


class XdsServer:
    def __init__(self, cache: ConfigCache, tls: ServerTls) -> None:
        self.cache = cache
        self.tls = tls
        self._server: grpc.aio.Server | None = None

    async def start(self, address: str) -> int:
        """Listen on `address` (host:port, port 0 picks one); returns the port."""
        server = grpc.aio.server(options=SERVER_OPTIONS)
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_Service(self.cache), server)
        port = server.add_secure_port(address, self.tls.credentials())
        if port == 0:
            raise XdsError(f"cannot listen on {address}")
        await server.start()
        self._server = server
        log.info("xds server listening on %s (port %d)", address, port)
        return port

    async def stop(self, grace: float | None = None) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
