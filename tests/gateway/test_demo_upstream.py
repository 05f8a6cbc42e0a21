"""The echo upstream of the demo and the tests."""

from __future__ import annotations

import socket
import struct

import httpx
import pytest

from airlock_microgateway.demo_upstream import EchoUpstream


def test_echo_describes_the_request() -> None:
    upstream = EchoUpstream().start()
    try:
        reply = httpx.post(f"{upstream.url}/a?b=1", content=b"hello", headers={"X-T": "1"})
    finally:
        upstream.stop()
    assert reply.status_code == 200
    echo = reply.json()
    assert (echo["method"], echo["path"], echo["body"]) == ("POST", "/a?b=1", "hello")
    assert ["X-T", "1"] in echo["headers"]
    assert upstream.seen[0].header("x-t") == "1"


def test_a_client_that_hangs_up_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    upstream = EchoUpstream().start()
    try:
        for i in range(20):
            with socket.create_connection(("127.0.0.1", upstream.port)) as client:
                client.sendall(f"GET /gone/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                # Reset, not a clean close: the upstream's answer finds no one to take it.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert httpx.get(f"{upstream.url}/still-serving").status_code == 200
    finally:
        upstream.stop()
    assert "Traceback" not in capfd.readouterr().err
