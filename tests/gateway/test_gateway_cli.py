"""`airlock-microgateway run`, as a user runs it: a child process with its own Envoy, sidecar
and demo upstream."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from airlock_microgateway.gateway import free_port

from .stack import wait_for

COMMAND = [sys.executable, "-m", "airlock_microgateway", "run"]


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in out.stdout.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_run_protects_the_demo_upstream_and_stops_cleanly(tmp_path: Path) -> None:
    port, metrics = free_port(), free_port()
    out = tmp_path / "out.log"
    with open(out, "wb") as sink:
        process = subprocess.Popen(
            [*COMMAND, "--listen", f"127.0.0.1:{port}", "--metrics", f"127.0.0.1:{metrics}",
             "--workers", "1"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: "listening on" in out.read_text() or process.poll() is not None,
                 300, "gateway")  # fmt: skip
        assert process.poll() is None, out.read_text()
        text = out.read_text()
        assert f"http://127.0.0.1:{port}" in text and f"127.0.0.1:{metrics}/metrics" in text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            reply = client.post("/echo", json={"hello": "world"})
            assert reply.status_code == 200
            assert reply.json()["body"] == '{"hello":"world"}'
            assert client.get("/?q=1' OR '1'='1").status_code == 400
        assert (
            "microgateway_engine_requests_total"
            in httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
        )
        children = _descendants(process.pid)
        assert len(children) >= 3  # Envoy, the sidecar supervisor and its worker
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)]
        assert "stopped" in out.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _run_fails(*args: str) -> str:
    out = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out
    return out.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stderr = _run_fails(
            "--listen", f"127.0.0.1:{port}", "--metrics", f"127.0.0.1:{free_port()}"
        )
    assert f"cannot listen on 127.0.0.1:{port} (--listen)" in stderr


def test_unreachable_upstream_is_a_clear_error() -> None:
    stderr = _run_fails(
        "--upstream", f"http://127.0.0.1:{free_port()}", "--listen", f"127.0.0.1:{free_port()}",
        "--metrics", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert "is not reachable" in stderr


def test_bad_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: microgateway.airlock.com/v1alpha1\nkind: DenyRules\nmetadata: {name: x}\n"
        "spec: {request: {builtIn: {settings: {level: Extreme}}}}\n"
    )
    stderr = _run_fails("--policy", str(bad), "--listen", f"127.0.0.1:{free_port()}")
    assert "invalid policy" in stderr and "level" in stderr
