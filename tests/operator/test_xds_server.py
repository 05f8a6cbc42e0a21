"""The operator's ADS server against real clients over real mTLS: a real Envoy started from the
engine bootstrap, and a plain gRPC client where the protocol itself is under test."""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography import x509
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from gateway.stack import wait_for
from gateway.xds_stack import Engine, SecretVolume, XdsThread
from google.protobuf import wrappers_pb2
from google.protobuf.message import Message

from airlock_microgateway.demo_upstream import EchoUpstream
from airlock_microgateway.envoy_config import (
    ROUTE_CONFIG_NAME,
    Route,
    Upstream,
    build_listener,
    build_route_config,
    build_upstream_cluster,
)
from airlock_microgateway.gateway import free_port
from airlock_operator.certificates import (
    CertificateAuthority,
    LeafCertificate,
    issue_engine_certificate,
)
from airlock_operator.settings import POLICY_TYPE_URL, Settings
from airlock_operator.xds_server import (
    CLUSTER_TYPE,
    LISTENER_TYPE,
    ROUTE_TYPE,
    ConfigCache,
    ServerTls,
    XdsError,
    resource_from_dict,
)

NAMESPACE = "team-a"
NODE = "team-a/gateway"
RENEWAL = timedelta(hours=48)
SERVER_LOG = "airlock_operator.xds_server"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create()


@pytest.fixture
def cache() -> ConfigCache:
    return ConfigCache()


@pytest.fixture
def xds(ca: CertificateAuthority, cache: ConfigCache) -> Iterator[XdsThread]:
    server = XdsThread(cache, ServerTls(ca, Settings(xds_host="localhost"))).start()
    yield server
    server.close()


@pytest.fixture
def upstream() -> Iterator[EchoUpstream]:
    running = EchoUpstream().start()
    yield running
    running.stop()


@pytest.fixture
def secret(tmp_path: Path, ca: CertificateAuthority) -> SecretVolume:
    volume = SecretVolume(tmp_path / "bootstrap")
    volume.publish_bootstrap(ca, issue_engine_certificate(ca, NAMESPACE, RENEWAL), NAMESPACE)
    return volume


@pytest.fixture
def start_engine(tmp_path: Path, secret: SecretVolume) -> Iterator[Callable[..., Engine]]:
    """Starts the test's Envoy with the bootstrap Secret's files; it is stopped afterwards."""
    started: list[Engine] = []

    def start(settings: Settings, initialized: bool = True) -> Engine:
        started.append(Engine(tmp_path, settings, NODE, secret.path))
        return started[-1].start(initialized)

    yield start
    for engine in started:
        engine.stop()


def engine_config(upstream: EchoUpstream, port: int, tag: str) -> dict[str, list[Message]]:
    """What the operator serves an engine: the upstream cluster, the listener (its routes by
    RDS) and the route configuration, built by envoy_config as the local gateway's are. The
    route is unsecured (no sidecar needed); every answer carries `x-config: <tag>`."""
    routes = [Route("/", "upstream", policy=None)]
    listener = build_listener("127.0.0.1", port, routes)
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    del manager["route_config"]
    manager["rds"] = {
        "route_config_name": ROUTE_CONFIG_NAME,
        "config_source": {"ads": {}, "resource_api_version": "V3"},
    }
    route_config = build_route_config(routes)
    route_config["response_headers_to_add"] = [{"header": {"key": "x-config", "value": tag}}]
    cluster = build_upstream_cluster(Upstream.from_url("upstream", upstream.url))
    return {
        CLUSTER_TYPE: [resource_from_dict(CLUSTER_TYPE, cluster)],
        LISTENER_TYPE: [resource_from_dict(LISTENER_TYPE, listener)],
        ROUTE_TYPE: [resource_from_dict(ROUTE_TYPE, route_config)],
    }


def served_tag(port: int) -> str | None:
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/probe", timeout=5)
    except httpx.TransportError:
        return None
    return reply.headers.get("x-config") if reply.status_code == 200 else None


def server_messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == SERVER_LOG and text in r.getMessage()
    ]


# -- a real Envoy ---------------------------------------------------------------------------------


def test_engine_is_configured_over_mtls_and_follows_changes(
    xds: XdsThread,
    cache: ConfigCache,
    upstream: EchoUpstream,
    start_engine: Callable[..., Engine],
) -> None:
    port = free_port()
    acks: list[str] = []
    cache.on_accepted = acks.append
    cache.set(NODE, engine_config(upstream, port, "v1"))
    assert not cache.programmed(NODE)  # nobody took it yet
    engine = start_engine(xds.settings())
    wait_for(lambda: served_tag(port) == "v1", 30, "the first configuration")
    assert upstream.seen, "the request reached the upstream through the served route"
    wait_for(lambda: cache.programmed(NODE), 5, "every type ACKed")
    assert set(acks) == {NODE}

    cache.set(NODE, engine_config(upstream, port, "v2"))
    assert not cache.programmed(NODE)  # the new version is not taken yet
    wait_for(lambda: served_tag(port) == "v2", 5, "the changed configuration")
    wait_for(lambda: cache.programmed(NODE), 5, "the new version ACKed")

    stats = engine.stats()
    assert stats["control_plane.connected_state"] == 1
    assert stats["cluster.airlock_xds.ssl.versions.TLSv1.3"] >= 1
    assert not any(
        k.startswith("cluster.airlock_xds.ssl.versions.TLSv1.2") and v for k, v in stats.items()
    )


def test_a_rejected_version_is_not_pushed_again_and_envoy_keeps_the_last_good_one(
    ca: CertificateAuthority,
    xds: XdsThread,
    cache: ConfigCache,
    upstream: EchoUpstream,
    caplog: pytest.LogCaptureFixture,
    start_engine: Callable[..., Engine],
) -> None:
    caplog.set_level(logging.INFO, logger=SERVER_LOG)
    port = free_port()
    cache.set(NODE, engine_config(upstream, port, "good"))
    engine = start_engine(xds.settings())
    wait_for(lambda: served_tag(port) == "good", 30, "the first configuration")

    bad = engine_config(upstream, port, "bad")
    # A regular expression RE2 cannot compile: valid protobuf, rejected by Envoy.
    bad[ROUTE_TYPE][0].virtual_hosts[0].routes[0].match.safe_regex.regex = "(unclosed"
    cache.set(NODE, bad)
    wait_for(lambda: server_messages(caplog, "xds NACK"), 10, "Envoy's NACK")
    nack = server_messages(caplog, "xds NACK")[0]
    assert "RouteConfiguration" in nack and "(unclosed" in nack, nack  # Envoy's reason
    assert served_tag(port) == "good"
    assert engine.stats()["control_plane.connected_state"] == 1

    # A new client of the node (another replica, a reconnect) gets the last good version.
    client = AdsClient(xds.address, ca, issue_engine_certificate(ca, NAMESPACE, RENEWAL))
    try:
        client.send(ROUTE_TYPE, (ROUTE_CONFIG_NAME,), node=NODE)
        (routes,) = unpack(client.receive())
        assert routes.response_headers_to_add[0].header.value == "good"
    finally:
        client.close()

    # The next good version arrives; in between, the rejected one was not pushed again.
    cache.set(NODE, engine_config(upstream, port, "better"))
    wait_for(lambda: served_tag(port) == "better", 5, "the next good configuration")
    assert len(server_messages(caplog, "xds NACK")) == 1
    rejected = nack.split("rejected RouteConfiguration version ")[1].split()[0]
    pushes = server_messages(caplog, f"RouteConfiguration version {rejected}, ")
    assert len(pushes) == 1, pushes


def test_renewed_certificate_files_are_used_without_restart_or_failed_request(
    ca: CertificateAuthority,
    xds: XdsThread,
    cache: ConfigCache,
    secret: SecretVolume,
    upstream: EchoUpstream,
    caplog: pytest.LogCaptureFixture,
    start_engine: Callable[..., Engine],
) -> None:
    caplog.set_level(logging.INFO, logger=SERVER_LOG)
    port = free_port()
    cache.set(NODE, engine_config(upstream, port, "v1"))
    engine = start_engine(xds.settings())
    statuses: list[int | str] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get(f"http://127.0.0.1:{port}/t").status_code)
                except httpx.TransportError as exc:
                    statuses.append(repr(exc))

    try:
        wait_for(lambda: served_tag(port) == "v1", 30, "the first configuration")
        old_serials = engine.client_cert_serials()
        sender = threading.Thread(target=traffic)
        sender.start()

        renewed = issue_engine_certificate(ca, NAMESPACE, RENEWAL)
        new_serial = renewed.certificate.serial_number
        assert new_serial not in old_serials
        secret.publish_bootstrap(ca, renewed, NAMESPACE)  # kubelet's ..data swap
        wait_for(lambda: new_serial in engine.client_cert_serials(), 10, "the renewed cert")

        # The open stream was authenticated with the old certificate; a new connection (after
        # the operator restarts) must present the renewed one.
        xds.stop()
        xds.start()
        wait_for(
            lambda: any(
                m.endswith(f"serial {new_serial:x}")
                for m in server_messages(caplog, "stream opened")
            ),
            30,
            "Envoy's reconnect with the renewed certificate",
        )
        cache.set(NODE, engine_config(upstream, port, "v2"))
        wait_for(lambda: served_tag(port) == "v2", 5, "configuration after the reconnect")
        stop.set()
        sender.join()
        assert statuses and set(statuses) == {200}, [s for s in statuses if s != 200][:5]
    finally:
        stop.set()


def _wrong_name(ca: CertificateAuthority) -> ServerTls:
    """A server certificate of the right CA, but for another name than the engine's xds_host."""
    tls = ServerTls(ca, Settings(xds_host="localhost", renewal_period=RENEWAL))
    tls.leaf = ca.issue("xds", 2 * RENEWAL, server=True, dns_names=("other.example",))
    return tls


def _wrong_ca(ca: CertificateAuthority) -> ServerTls:
    """The right name, but signed by a CA the engine does not trust."""
    return ServerTls(CertificateAuthority.create(), Settings(xds_host="localhost"))


@pytest.mark.parametrize(
    ("make_tls", "failure"),
    [(_wrong_name, "fail_verify_san"), (_wrong_ca, "fail_verify_error")],
)
def test_the_engine_refuses_a_server_that_is_not_the_operator(
    ca: CertificateAuthority,
    cache: ConfigCache,
    upstream: EchoUpstream,
    make_tls: Any,
    failure: str,
    start_engine: Callable[..., Engine],
) -> None:
    server = XdsThread(cache, make_tls(ca)).start()
    port = free_port()
    cache.set(NODE, engine_config(upstream, port, "v1"))
    try:
        engine = start_engine(server.settings(), initialized=False)
        stat = f"cluster.airlock_xds.ssl.{failure}"
        wait_for(lambda: engine.stats().get(stat, 0) > 0, 30, f"the refusal ({stat})")
        assert served_tag(port) is None
        # Not control_plane.connected_state: Envoy sets it as soon as it starts a stream, before
        # the handshake fails, so it flickers to 1 on every retry.
        stats = engine.stats()
        assert stats["cluster_manager.cds.update_success"] == 0
        assert stats["listener_manager.lds.update_success"] == 0
    finally:
        server.close()


# -- the protocol, with a plain gRPC client --------------------------------------------------------


class AdsClient:
    """A raw ADS stream: requests are queued, responses read one at a time."""

    def __init__(self, address: str, ca: CertificateAuthority, leaf: LeafCertificate) -> None:
        credentials = grpc.ssl_channel_credentials(ca.cert_pem, leaf.key_pem, leaf.cert_pem)
        self.channel = grpc.secure_channel(address, credentials)
        self.requests: queue.Queue[discovery_pb2.DiscoveryRequest | None] = queue.Queue()
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
        # The deadline only keeps a broken server from hanging the suite.
        self.responses = stub.StreamAggregatedResources(iter(self.requests.get, None), timeout=60)

    def send(
        self, type_url: str, names: tuple[str, ...] = (), node: str | None = None, **fields: Any
    ) -> None:
        request = discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=names, **fields)
        if node is not None:
            request.node.CopyFrom(base_pb2.Node(id=node))
        self.requests.put(request)

    def receive(self) -> discovery_pb2.DiscoveryResponse:
        return next(self.responses)

    def close(self) -> None:
        self.requests.put(None)
        self.responses.cancel()
        self.channel.close()


@pytest.fixture
def engine_leaf(ca: CertificateAuthority) -> LeafCertificate:
    return issue_engine_certificate(ca, NAMESPACE, RENEWAL)


MESSAGES = {
    CLUSTER_TYPE: cluster_pb2.Cluster,
    LISTENER_TYPE: listener_pb2.Listener,
    ROUTE_TYPE: route_pb2.RouteConfiguration,
    POLICY_TYPE_URL: wrappers_pb2.StringValue,
}


def unpack(response: discovery_pb2.DiscoveryResponse) -> list[Any]:
    messages = []
    for resource in response.resources:
        message = MESSAGES[response.type_url]()
        assert resource.Unpack(message)
        messages.append(message)
    return messages


def names_of(response: discovery_pb2.DiscoveryResponse) -> list[str]:
    return [m.name for m in unpack(response)]


def test_changes_are_pushed_clusters_first_then_listeners_then_routes(
    xds: XdsThread,
    cache: ConfigCache,
    ca: CertificateAuthority,
    engine_leaf: LeafCertificate,
    upstream: EchoUpstream,
) -> None:
    cache.set(NODE, engine_config(upstream, 8080, "v1"))
    client = AdsClient(xds.address, ca, engine_leaf)
    try:
        # Each type is answered as it is asked for ...
        client.send(ROUTE_TYPE, (ROUTE_CONFIG_NAME,), node=NODE)
        client.send(LISTENER_TYPE)
        client.send(CLUSTER_TYPE)
        first = [client.receive() for _ in range(3)]
        assert [r.type_url for r in first] == [ROUTE_TYPE, LISTENER_TYPE, CLUSTER_TYPE]
        assert all(len(r.resources) == 1 for r in first)
        for response in first:
            client.send(
                response.type_url,
                (ROUTE_CONFIG_NAME,) if response.type_url == ROUTE_TYPE else (),
                version_info=response.version_info,
                response_nonce=response.nonce,
            )

        # ... but a change of all three is pushed in ADS order.
        changed = engine_config(upstream, 8081, "v2")
        changed[CLUSTER_TYPE][0].connect_timeout.seconds = 3
        cache.set(NODE, changed)
        second = [client.receive() for _ in range(3)]
        assert [r.type_url for r in second] == [CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE]
        by_type = {r.type_url: r for r in first}
        assert all(r.version_info != by_type[r.type_url].version_info for r in second)
    finally:
        client.close()


def test_a_node_gets_nothing_until_it_is_set(
    xds: XdsThread,
    cache: ConfigCache,
    ca: CertificateAuthority,
    engine_leaf: LeafCertificate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=SERVER_LOG)
    client = AdsClient(xds.address, ca, engine_leaf)
    try:
        client.send(POLICY_TYPE_URL, ("policies",), node=NODE)
        # The server has taken the subscription (an answer would have been sent right then).
        wait_for(lambda: server_messages(caplog, f"stream opened: node {NODE}"), 10, "stream")
        cache.set(NODE, {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value="first")]})
        assert unpack(client.receive())[0].value == "first"
    finally:
        client.close()


def test_unchanged_content_is_not_pushed_and_routes_are_filtered_by_name(
    xds: XdsThread,
    cache: ConfigCache,
    ca: CertificateAuthority,
    engine_leaf: LeafCertificate,
    upstream: EchoUpstream,
) -> None:
    config = engine_config(upstream, 8080, "v1")
    other = resource_from_dict(ROUTE_TYPE, {"name": "other", "virtual_hosts": []})
    config[ROUTE_TYPE].append(other)
    assert cache.set(NODE, config)
    assert not cache.set(
        NODE, engine_config(upstream, 8080, "v1") | {ROUTE_TYPE: config[ROUTE_TYPE]}
    )
    client = AdsClient(xds.address, ca, engine_leaf)
    try:
        client.send(ROUTE_TYPE, ("other",), node=NODE)
        response = client.receive()
        assert names_of(response) == ["other"]
        client.send(
            ROUTE_TYPE,
            ("other",),
            version_info=response.version_info,
            response_nonce=response.nonce,
        )
        # Asking for more names is answered at once, with the same version.
        client.send(
            ROUTE_TYPE,
            ("other", ROUTE_CONFIG_NAME),
            version_info=response.version_info,
            response_nonce=response.nonce,
        )
        both = client.receive()
        assert sorted(names_of(both)) == sorted(["other", ROUTE_CONFIG_NAME])
        assert both.version_info == response.version_info
        client.send(
            ROUTE_TYPE,
            ("other", ROUTE_CONFIG_NAME),
            version_info=both.version_info,
            response_nonce=both.nonce,
        )

        # Setting the same content again pushes nothing: the next response is the next change.
        assert not cache.set(NODE, config)
        changed = engine_config(upstream, 8080, "v2")
        cache.set(NODE, changed)
        after = client.receive()
        assert after.version_info != both.version_info
        assert names_of(after) == [ROUTE_CONFIG_NAME]  # "other" is gone from the node
    finally:
        client.close()


def test_removed_node_gets_nothing_more_until_set_again(
    xds: XdsThread,
    cache: ConfigCache,
    ca: CertificateAuthority,
    engine_leaf: LeafCertificate,
) -> None:
    policy = {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value="one")]}
    cache.set(NODE, policy)
    client = AdsClient(xds.address, ca, engine_leaf)
    try:
        client.send(POLICY_TYPE_URL, ("policies",), node=NODE)
        first = client.receive()
        assert unpack(first)[0].value == "one"
        client.send(
            POLICY_TYPE_URL,
            ("policies",),
            version_info=first.version_info,
            response_nonce=first.nonce,
        )
        cache.remove(NODE)
        cache.set("team-a/other-gateway", {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value="x")]})
        cache.set(NODE, {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value="three")]})
        # Neither the removal nor another node's change reached this stream.
        assert unpack(client.receive())[0].value == "three"
    finally:
        client.close()


def test_a_node_of_another_namespace_is_refused(
    xds: XdsThread,
    cache: ConfigCache,
    ca: CertificateAuthority,
    engine_leaf: LeafCertificate,
) -> None:
    cache.set("team-b/gateway", {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value="secret")]})
    client = AdsClient(xds.address, ca, engine_leaf)
    try:
        client.send(POLICY_TYPE_URL, ("policies",), node="team-b/gateway")
        with pytest.raises(grpc.RpcError) as refused:
            client.receive()
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "engine.team-a" in refused.value.details()
    finally:
        client.close()


def test_a_node_id_that_is_not_namespace_slash_name_is_refused(
    xds: XdsThread,
    ca: CertificateAuthority,
    engine_leaf: LeafCertificate,
) -> None:
    client = AdsClient(xds.address, ca, engine_leaf)
    try:
        client.send(POLICY_TYPE_URL, ("policies",), node="team-a")
        with pytest.raises(grpc.RpcError) as refused:
            client.receive()
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        client.close()


def test_a_client_certificate_of_another_ca_is_refused(
    xds: XdsThread,
    cache: ConfigCache,
    ca: CertificateAuthority,
) -> None:
    cache.set(NODE, {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value="secret")]})
    stranger = CertificateAuthority.create()
    # Trusts the right server, but presents a certificate our CA did not sign.
    leaf = issue_engine_certificate(stranger, NAMESPACE, RENEWAL)
    credentials = grpc.ssl_channel_credentials(ca.cert_pem, leaf.key_pem, leaf.cert_pem)
    with grpc.secure_channel(xds.address, credentials) as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        request = discovery_pb2.DiscoveryRequest(
            type_url=POLICY_TYPE_URL, node=base_pb2.Node(id=NODE)
        )
        with pytest.raises(grpc.RpcError) as refused:
            next(stub.StreamAggregatedResources(iter([request]), timeout=30))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_without_certificate_is_refused(xds: XdsThread, ca: CertificateAuthority) -> None:
    with grpc.secure_channel(xds.address, grpc.ssl_channel_credentials(ca.cert_pem)) as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        request = discovery_pb2.DiscoveryRequest(type_url=POLICY_TYPE_URL)
        with pytest.raises(grpc.RpcError) as refused:
            next(stub.StreamAggregatedResources(iter([request]), timeout=30))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def _served_certificate(
    port: int, ca: CertificateAuthority, leaf: LeafCertificate, tmp: Path
) -> x509.Certificate:
    """The server certificate a new TLS connection gets (a plain handshake, no gRPC)."""
    (tmp / "c.pem").write_bytes(leaf.cert_pem)
    (tmp / "k.pem").write_bytes(leaf.key_pem)
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    context.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_the_server_certificate_is_renewed_when_due_without_restart(
    tmp_path: Path,
    ca: CertificateAuthority,
    cache: ConfigCache,
    engine_leaf: LeafCertificate,
) -> None:
    settings = Settings(xds_host="xds.example", renewal_period=timedelta(hours=1))
    now = datetime.now(UTC)
    clock = [now - timedelta(minutes=50)]  # the first certificate was issued 50 minutes ago
    tls = ServerTls(ca, settings, clock=lambda: clock[0])
    server = XdsThread(cache, tls).start()
    try:
        first = _served_certificate(server.port, ca, engine_leaf, tmp_path)
        san = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["xds.example", "localhost"]
        assert _served_certificate(server.port, ca, engine_leaf, tmp_path).serial_number == (
            first.serial_number
        )
        clock[0] = now + timedelta(minutes=11)  # one renewal period since the first was issued
        renewed = _served_certificate(server.port, ca, engine_leaf, tmp_path)
        assert renewed.serial_number != first.serial_number
        assert renewed.not_valid_after_utc - renewed.not_valid_before_utc > timedelta(hours=1)
    finally:
        server.close()


def test_resource_from_dict_names_what_is_wrong() -> None:
    with pytest.raises(XdsError, match="unknown message type"):
        resource_from_dict("type.googleapis.com/no.such.Type", {})
    with pytest.raises(XdsError, match="Cluster"):
        resource_from_dict(CLUSTER_TYPE, {"name": "x", "no_such_field": 1})
    with pytest.raises(XdsError, match="unknown message type envoy.nope.v3.Thing"):
        resource_from_dict(
            CLUSTER_TYPE,
            {
                "name": "x",
                "transport_socket": {
                    "name": "t",
                    "typed_config": {"@type": "type.googleapis.com/envoy.nope.v3.Thing"},
                },
            },
        )


def test_the_cache_refuses_what_it_cannot_serve(cache: ConfigCache) -> None:
    cluster = resource_from_dict(CLUSTER_TYPE, {"name": "a"})
    with pytest.raises(XdsError, match="two resources named 'a'"):
        cache.set(NODE, {CLUSTER_TYPE: [cluster, cluster]})
    with pytest.raises(XdsError, match="got a envoy.config.cluster.v3.Cluster"):
        cache.set(NODE, {LISTENER_TYPE: [cluster]})
    with pytest.raises(XdsError, match="without a name"):
        cache.set(NODE, {CLUSTER_TYPE: [resource_from_dict(CLUSTER_TYPE, {})]})
    assert cache.get(NODE) is None
