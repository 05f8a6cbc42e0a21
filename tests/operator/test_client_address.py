"""Where the client's address comes from (GatewayParameters defaults.downstream.remoteIP),
through a real Envoy running what the operator renders: the address the access log shows and
the sidecar's remoteIP conditions see."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway.stack import json_lines
from k8s.controlplane import wait_for
from test_engine_config_envoy import static_bootstrap
from world_builders import basic_world, endpoint_slice, gateway, policy

from airlock_microgateway.demo_upstream import EchoUpstream
from airlock_microgateway.gateway import envoy_binary, free_port
from airlock_operator.controller import engine_messages
from airlock_operator.reconcile import compute

PARAMETERS = {"group": "microgateway.airlock.com", "kind": "GatewayParameters", "name": "p"}


class Engine:
    """Envoy with the operator's configuration for a Gateway with these parameters, in front of
    an echo upstream; unsecured routes, so no sidecar is needed."""

    def __init__(self, tmp: Path, upstream: EchoUpstream, remote_ip: dict[str, Any] | None):
        self.port = free_port()
        downstream = {"remoteIP": remote_ip} if remote_ip is not None else {}
        world = basic_world(
            policy(
                "GatewayParameters",
                "p",
                defaults={"contentSecurity": {"unsecured": {}}, "downstream": downstream},
            ),
            endpoint_slice(addresses=("127.0.0.1",), port=upstream.port),
        )
        listeners = [{"name": "http", "port": self.port, "protocol": "HTTP"}]
        world.put(
            "Gateway", gateway(listeners=listeners, infrastructure={"parametersRef": PARAMETERS})
        )
        engine = compute(world, lambda node: True, "2026-11-26T00:00:00Z").engines["apps/gw"]
        bootstrap = static_bootstrap(engine_messages(engine))
        for listener in bootstrap["static_resources"]["listeners"]:
            listener["address"]["socket_address"]["address"] = "127.0.0.1"
        self.admin_port = free_port()
        bootstrap["admin"] = {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}
        }
        (tmp / "envoy.json").write_text(json.dumps(bootstrap))
        self.log = tmp / "envoy.log"
        self.process = subprocess.Popen(
            [envoy_binary(), "-c", str(tmp / "envoy.json"), "--disable-hot-restart", "-l", "error"],
            stdout=open(self.log, "wb"),  # noqa: SIM115 - owned by the child
            stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, "envoy", timeout=60)

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{self.admin_port}/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def client_address(self, path: str) -> str:
        """The client address of the request to `path`, from Envoy's access log."""

        def logged() -> dict[str, Any] | None:
            for line in json_lines(self.log):
                if line.get("url.path") == path:
                    return line
            return None

        return str(wait_for(logged, f"access log of {path}", timeout=10)["source.ip"])

    def get(self, path: str, **headers: str) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", headers=headers).status_code

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


@pytest.fixture
def upstream() -> Iterator[EchoUpstream]:
    echo = EchoUpstream().start()
    yield echo
    echo.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path, upstream: EchoUpstream):
    running = Engine(tmp_path, upstream, request.param)
    yield running
    running.stop()


@pytest.mark.parametrize("engine", [None, {"connectionIP": {}}], indirect=True)
def test_the_connection_by_default(engine: Engine) -> None:
    assert engine.get("/a", **{"X-Forwarded-For": "203.0.113.7"}) == 200
    assert engine.client_address("/a") == "127.0.0.1"  # a client cannot claim an address


@pytest.mark.parametrize("engine", [{"xff": {"numTrustedHops": 1}}], indirect=True)
def test_the_nth_address_from_the_right_of_x_forwarded_for(engine: Engine) -> None:
    assert engine.get("/a", **{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}) == 200
    assert engine.client_address("/a") == "203.0.113.7"  # what the trusted proxy appended


@pytest.mark.parametrize(
    "engine", [{"xff": {"trustedCIDRRanges": ["127.0.0.0/8", "10.0.0.0/8"]}}], indirect=True
)
def test_x_forwarded_for_skipping_trusted_proxies(engine: Engine) -> None:
    assert engine.get("/a", **{"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.1.2.3"}) == 200
    assert engine.client_address("/a") == "203.0.113.7"


@pytest.mark.parametrize(
    "engine", [{"customHeader": {"headerName": "X-Real-IP", "required": True}}], indirect=True
)
def test_a_custom_header_required(engine: Engine, upstream: EchoUpstream) -> None:
    assert engine.get("/a", **{"X-Real-IP": "203.0.113.9"}) == 200
    assert engine.client_address("/a") == "203.0.113.9"
    seen = len(upstream.seen)
    assert engine.get("/b") == 403  # without it: refused, never upstream
    assert len(upstream.seen) == seen


@pytest.mark.parametrize("engine", [{"proxyProtocol": {"version": "V1"}}], indirect=True)
def test_the_proxy_protocol_source(engine: Engine) -> None:
    with socket.create_connection(("127.0.0.1", engine.port), timeout=10) as conn:
        conn.sendall(
            b"PROXY TCP4 203.0.113.5 127.0.0.1 40000 80\r\n"
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert conn.recv(100).startswith(b"HTTP/1.1 200")
    assert engine.client_address("/a") == "203.0.113.5"
    # Without the PROXY header the connection is refused.
    with pytest.raises(httpx.HTTPError):
        engine.get("/b")
