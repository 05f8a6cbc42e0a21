"""What keeps the sidecar's memory flat: no grpc in the supervisor, and streams that end without
the failed or abandoned gRPC batches that grpc.aio never frees (grpc/grpc#43360). Real grpc
(server and client in this process over a unix socket), a real sidecar."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc

from airlock_microgateway import service as service_module
from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_store import PolicyStore, compile_documents
from airlock_microgateway.service import ExternalProcessorService, StreamWriter

from .stack import Stack
from .test_processor import DOCS, headers_message


@pytest.fixture(scope="module")
def service() -> ExternalProcessorService:
    return ExternalProcessorService(PolicyStore(compile_documents(DOCS)), Observer())


class RecordingWriter(StreamWriter):
    """Whether a stream's handler waited for a reset, and how it ended: "returned" (a status
    was sent) or "cancelled"."""

    def __init__(self, service: ExternalProcessorService) -> None:
        super().__init__(service)
        self.outcomes: list[str] = []
        self.ended = asyncio.Event()

    async def Process(self, request_iterator: object, context: Any) -> None:
        try:
            await super().Process(request_iterator, context)
            self.outcomes.append("returned")
        except asyncio.CancelledError:
            self.outcomes.append("cancelled")
            raise
        finally:
            self.ended.set()

    async def _wait_for_reset(self) -> None:
        self.outcomes.append("waited")
        await super()._wait_for_reset()


async def _exchange(tmp_path: Path, writer: RecordingWriter, client: Any) -> Any:
    """Serve `writer` on a unix socket, run `client(stub)`, wait for the handler to end."""
    address = f"unix:{tmp_path / 'extproc.sock'}"
    server = grpc.aio.server()
    ep_grpc.add_ExternalProcessorServicer_to_server(writer, server)
    server.add_insecure_port(address)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            result = await client(ep_grpc.ExternalProcessorStub(channel))
            await writer.ended.wait()
            return result
    finally:
        await server.stop(None)


@pytest.fixture
def close_wait(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def set_wait(seconds: float) -> None:
        monkeypatch.setattr(service_module, "CLOSE_WAIT_SECONDS", seconds)

    yield set_wait


def test_an_answered_stream_is_left_for_envoy_to_reset(tmp_path, service, close_wait) -> None:
    """Envoy resets the stream once it has the last answer: the handler must be waiting then,
    not sending a status (which fails on the reset stream and leaks its batch)."""
    close_wait(3600)
    writer = RecordingWriter(service)

    async def client(stub: Any) -> str:
        call = stub.Process()
        await call.write(headers_message("GET", "/"))
        answer = await call.read()
        call.cancel()  # what Envoy does
        return str(answer.WhichOneof("response"))

    assert asyncio.run(_exchange(tmp_path, writer, client)) == "request_headers"
    assert writer.outcomes == ["waited", "cancelled"]


def test_a_client_that_keeps_the_stream_gets_a_status(tmp_path, service, close_wait) -> None:
    close_wait(0.01)
    writer = RecordingWriter(service)

    async def client(stub: Any) -> Any:
        call = stub.Process()
        await call.write(headers_message("GET", "/"))
        await call.read()
        return await call.code()

    assert asyncio.run(_exchange(tmp_path, writer, client)) == grpc.StatusCode.OK
    assert writer.outcomes == ["waited", "returned"]


def test_a_client_that_ends_the_stream_gets_its_status_at_once(
    tmp_path, service, close_wait
) -> None:
    close_wait(0)
    writer = RecordingWriter(service)

    async def client(stub: Any) -> Any:
        call = stub.Process()
        post = headers_message("POST", "/", [("content-length", "3")], end_of_stream=False)
        await call.write(post)
        await call.read()  # the answer asks for the body
        await call.done_writing()
        return await call.code()

    assert asyncio.run(_exchange(tmp_path, writer, client)) == grpc.StatusCode.OK
    assert writer.outcomes == ["returned"]


def test_a_write_is_finished_when_the_stream_is_reset_meanwhile(service) -> None:
    """Cancelling a write half-way drops its native batch: the write must run to its end."""

    async def scenario() -> list[str]:
        started, release, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()
        outcome: list[str] = []

        class Context:
            def invocation_metadata(self) -> list[tuple[str, str]]:
                return []

            async def read(self) -> ep.ProcessingRequest:
                return headers_message("GET", "/")

            async def write(self, response: ep.ProcessingResponse) -> None:
                try:
                    started.set()
                    await release.wait()
                    outcome.append("written")
                finally:
                    ended.set()

        stream = asyncio.ensure_future(StreamWriter(service).Process(None, Context()))
        await started.wait()
        stream.cancel()  # Envoy resets the stream while its answer is being written
        with pytest.raises(asyncio.CancelledError):
            await stream
        release.set()
        await ended.wait()
        return outcome

    assert asyncio.run(scenario()) == ["written"]


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_the_supervisor_does_not_load_grpc(tmp_path: Path) -> None:
    """It serves no gRPC: grpc and protobuf would only add to its memory (~14 MiB)."""
    stack = Stack(tmp_path).start()
    try:
        assert stack.sidecar is not None
        workers = Path(f"/proc/{stack.sidecar.pid}/task/{stack.sidecar.pid}/children")
        pids = [int(p) for p in workers.read_text().split()]
        assert len(pids) == stack.workers
        assert "cygrpc" not in _maps(stack.sidecar.pid)
        assert all("cygrpc" in _maps(pid) for pid in pids)  # the check can see grpc
    finally:
        stack.stop()
