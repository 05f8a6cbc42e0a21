"""Fail closed, recover by itself, reload policies under load without a wrong answer.
Real Envoy, real sidecar processes, real upstream."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .stack import Stack, children, wait_for

RULE = """
apiVersion: microgateway.airlock.com/v1alpha1
kind: DenyRules
metadata: {name: rules}
spec:
  request:
    custom:
      rules:
        - ruleKey: NO_PARAM
          blockData: {parameter: {name: {matcher: {exact: %s}}}}
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(RULE % "debug")
    running = Stack(tmp_path, [policy]).start()
    yield running
    running.stop()


def test_sidecar_down_fails_closed_and_recovers(stack: Stack) -> None:
    with stack.client() as client:
        assert client.get("/before").status_code == 200
        stack.kill_sidecar()
        m = uuid.uuid4().hex
        statuses = {client.get(f"/down?m={m}&i={i}").status_code for i in range(20)}
        assert statuses and all(500 <= s < 600 for s in statuses), statuses
        assert not [s for s in stack.upstream.seen if m in s.target]

        stack.start_sidecar()
        stack.wait_healthy()
        assert client.get("/after").status_code == 200
        assert client.get("/after?q=<script>alert(1)</script>").status_code == 400


def test_a_dead_worker_is_replaced(stack: Stack) -> None:
    assert stack.sidecar is not None
    workers = children(stack.sidecar.pid)
    assert len(workers) == stack.workers, workers
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(set(children(stack.sidecar.pid)) - {workers[0]}) == stack.workers,
             30, "replacement worker")  # fmt: skip
    stack.wait_healthy()
    with stack.client() as client:
        assert all(client.get(f"/x?i={i}").status_code == 200 for i in range(10))
        assert client.get("/x?debug=1").status_code == 400


class Load:
    """Clients sending requests whose verdict every policy version agrees on, while the block
    runs: `results` counts the statuses, `wrong` lists every unexpected answer."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.results: Counter[str] = Counter()
        self.wrong: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(4)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _client(self, n: int) -> None:
        with httpx.Client(base_url=self.stack.url, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                attack = i % 3 == 0
                path = "/q?x=<script>alert(1)</script>" if attack else f"/q?c={n}&i={i}"
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as exc:
                    self.wrong.append(f"{path}: {exc!r}")
                    continue
                self.results[str(status)] += 1
                if status != (400 if attack else 200):
                    self.wrong.append(f"{path}: {status}")


def test_workers_are_replaced_under_load_without_a_failed_request(tmp_path: Path) -> None:
    stack = Stack(tmp_path, workers=1, sidecar_args=["--max-streams", "40"]).start()
    try:

        def replaced() -> int:
            return sum(x["message"] == "worker replaced" for x in stack.sidecar_lines())

        with Load(stack) as load:
            wait_for(lambda: replaced() >= 3, 120, "three worker replacements")
        assert not load.wrong, load.wrong[:10]
        assert sum(load.results.values()) > 120
    finally:
        stack.stop()


def test_with_other_workers_a_worker_drains_before_its_replacement_starts(
    tmp_path: Path,
) -> None:
    """Never a worker more than --workers (each is a whole worker's memory), one slot at a
    time, and still no failed request: the other worker takes the traffic meanwhile."""
    stack = Stack(tmp_path, workers=2, sidecar_args=["--max-streams", "40"]).start()
    assert stack.sidecar is not None
    workers = Path(f"/proc/{stack.sidecar.pid}/task/{stack.sidecar.pid}/children")
    most = 0
    try:

        def replaced() -> int:
            nonlocal most
            most = max(most, len(workers.read_text().split()))
            return sum(x["message"] == "worker replaced" for x in stack.sidecar_lines())

        with Load(stack) as load:
            wait_for(lambda: replaced() >= 4, 120, "four worker replacements")
        assert not load.wrong, load.wrong[:10]
        assert most == 2
    finally:
        stack.stop()


def test_reload_under_load_misjudges_nothing(stack: Stack) -> None:
    """Rewrite the policy file again and again (and once with a broken one) while clients
    send requests whose verdict is the same under every version; then check the last version
    is in force."""
    policy = Path(stack.policy_files[0])

    def outcomes() -> int:  # of the supervisor (workers log their own reloads too)
        messages = [x["message"] for x in stack.sidecar_lines() if "process.worker" not in x]
        return sum(
            m == "policies reloaded" or m.startswith("new policy rejected") for m in messages
        )

    with Load(stack) as load:
        for version in ["trace", "verbose", "broken", "dump", "trace2"]:
            before = outcomes()
            if version == "broken":
                policy.write_text("kind: DenyRules\n  this is: [not yaml")
            else:
                policy.write_text(RULE % version)
            os.kill(stack.sidecar.pid, signal.SIGHUP)  # type: ignore[union-attr]
            wait_for(lambda: outcomes() > before, 120, f"reload of {version}")  # noqa: B023
            time.sleep(0.5)  # traffic on the new version
    assert not load.wrong, load.wrong[:10]
    assert load.results["200"] > 50 and load.results["400"] > 20
    log = [x["message"] for x in stack.sidecar_lines() if "process.worker" not in x]
    assert sum(m == "policies reloaded" for m in log) == 4
    assert sum(m.startswith("new policy rejected") for m in log) == 1
    with stack.client() as client:
        wait_for(lambda: client.get("/x?trace2=1").status_code == 400, 20, "last policy")
        assert client.get("/x?debug=1").status_code == 200  # the first version is gone


def test_slow_sidecar_fails_closed(tmp_path: Path) -> None:
    """A processor that answers after Envoy's message timeout: 5xx, and the upstream sees
    nothing. (A stand-in ext_proc server, since ours is not slow on purpose.)"""
    import asyncio

    import grpc
    from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
    from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    class Slow(ep_grpc.ExternalProcessorServicer):
        async def Process(self, request_iterator, context):
            async for _ in request_iterator:
                await asyncio.sleep(5)  # beyond the 2 s message timeout
                yield ep.ProcessingResponse(request_headers=ep.HeadersResponse())

    stack = Stack(tmp_path, workers=1)
    ready = threading.Event()
    stop_server: list = []

    def serve() -> None:
        async def main() -> None:
            server = grpc.aio.server()
            ep_grpc.add_ExternalProcessorServicer_to_server(Slow(), server)
            checker = health.aio.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(checker, server)
            stack.socket_dir.mkdir(parents=True, exist_ok=True)
            server.add_insecure_port(f"unix:{stack.socket_dir}/extproc-0-a.sock")
            await server.start()
            await checker.set(
                "envoy.service.ext_proc.v3.ExternalProcessor",
                health_pb2.HealthCheckResponse.SERVING,
            )
            done = asyncio.Event()
            stop_server.append((asyncio.get_running_loop(), done))
            ready.set()
            await done.wait()
            await server.stop(0)

        asyncio.run(main())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert ready.wait(30)
        stack.start_envoy()
        stack.wait_healthy()
        m = uuid.uuid4().hex
        with stack.client() as client:
            reply = client.get(f"/slow?m={m}")
        assert 500 <= reply.status_code < 600
        assert not [s for s in stack.upstream.seen if m in s.target]
    finally:
        for loop, done in stop_server:
            loop.call_soon_threadsafe(done.set)
        thread.join(30)
        stack.stop()


def test_sigterm_drains_requests_in_flight(stack: Stack) -> None:
    """A chunked upload is in flight when the sidecar gets SIGTERM: its worker stops taking new
    streams but lets this one finish, so the upload is judged and reaches the upstream."""
    import http.client

    assert stack.sidecar is not None
    m = uuid.uuid4().hex
    sent_first = threading.Event()

    def parts() -> Iterator[bytes]:
        yield b'{"note": "'
        sent_first.set()
        time.sleep(2)  # SIGTERM arrives meanwhile
        yield m.encode() + b'"}'

    result: list[int] = []

    def upload() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        connection.request("POST", "/drain", body=parts(),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)  # fmt: skip
        result.append(connection.getresponse().status)
        connection.close()

    thread = threading.Thread(target=upload)
    thread.start()
    assert sent_first.wait(10)
    time.sleep(0.3)
    stack.sidecar.send_signal(signal.SIGTERM)
    thread.join(30)
    assert result == [200]
    assert [s for s in stack.upstream.seen if m.encode() in s.body]
    assert stack.sidecar.wait(30) == 0
    lines = [x["message"] for x in stack.sidecar_lines()]
    assert "sidecar draining" in lines and "sidecar stopped" in lines
