"""The gRPC side of one sidecar worker: ExternalProcessor/Process and the health service.

The route selects its policy by name through the gRPC initial metadata of the stream
(`x-airlock-policy`, set per route in the Envoy configuration); a stream without it gets the
policy named "default".

gRPC runs `StreamWriter.Process` for each stream: it writes the responses of
`ExternalProcessorService.Process` itself and leaves the stream for Envoy to close, because
grpc.aio loses native memory for good (grpc/grpc#43360, about 100 bytes a stream) on every
batch that fails or whose awaiting task is cancelled, and Envoy resets each stream as soon as it
has the last answer: a final status sent after that answer fails on most streams under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_store import PolicyStore
from airlock_microgateway.processor import Processor
from airlock_microgateway.sidecar import HEALTH_PAUSE_SECONDS

POLICY_METADATA = "x-airlock-policy"
DEFAULT_POLICY = "default"
SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor"
# How long a stream that has had its last answer waits for Envoy to close it (Envoy does so as
# soon as it has the answer) before the sidecar ends it with a status itself.
CLOSE_WAIT_SECONDS = 1.0


class ExternalProcessorService(ep_grpc.ExternalProcessorServicer):
    def __init__(
        self,
        store: PolicyStore,
        observer: Observer,
        max_streams: int = 0,
        on_max_streams: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.observer = observer
        self.streams = 0
        self._max_streams = max_streams
        self._on_max_streams = on_max_streams

    async def Process(
        self,
        request_iterator: AsyncIterator[ep.ProcessingRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ep.ProcessingResponse]:
        self.streams += 1
        if self.streams == self._max_streams and self._on_max_streams is not None:
            self._on_max_streams()
        name = DEFAULT_POLICY
        for key, value in context.invocation_metadata() or ():
            if key == POLICY_METADATA:
                name = value if isinstance(value, str) else value.decode()
        compiled = self.store.current.get(name)
        if compiled is None:
            self.observer.failed("unknown_policy", f"route asks for unknown policy {name!r}")
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no policy named {name!r}")
            return
        processor = Processor(compiled, self.observer)
        async for message in request_iterator:
            try:
                response = processor.handle(message)
            except Exception as exc:
                # Aborting makes Envoy answer 5xx (fail closed); the request never passes.
                self.observer.failed("processing", f"processing failed: {exc!r}")
                await context.abort(grpc.StatusCode.INTERNAL, "request processing failed")
                return
            yield response
            if processor.done:
                return


class _Requests:
    """The messages of a stream, read with the reader API; knows whether the client ended them."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context
        self.ended = False

    def __aiter__(self) -> _Requests:
        return self

    async def __anext__(self) -> ep.ProcessingRequest:
        message = await self._context.read()
        if message is grpc.aio.EOF:
            self.ended = True
            raise StopAsyncIteration
        return message


class StreamWriter:
    """What gRPC runs for a stream (see the module docstring): the responses of
    `service.Process`, each written to the end even if Envoy resets the stream meanwhile; then,
    unless the client ended the stream, a wait for Envoy to close it."""

    def __init__(self, service: ExternalProcessorService) -> None:
        self.service = service
        self._writes: set[asyncio.Task[None]] = set()  # in flight; the loop holds tasks weakly

    async def Process(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        requests = _Requests(context)
        async for response in self.service.Process(requests, context):
            await self._write(context, response)
        if not requests.ended:
            await self._wait_for_reset()

    async def _wait_for_reset(self) -> None:
        """Envoy's reset cancels this wait, and nothing is sent on the reset stream; a client
        that keeps the stream open gets a status after CLOSE_WAIT_SECONDS."""
        await asyncio.sleep(CLOSE_WAIT_SECONDS)

    async def _write(
        self, context: grpc.aio.ServicerContext, response: ep.ProcessingResponse
    ) -> None:
        # Shielded: cancelling the stream's task mid-write would drop the write's native batch.
        write = asyncio.ensure_future(context.write(response))
        self._writes.add(write)
        write.add_done_callback(self._written)
        await asyncio.shield(write)

    def _written(self, write: asyncio.Task[None]) -> None:
        self._writes.discard(write)
        if not write.cancelled():
            write.exception()  # fetched, or asyncio logs it: writes fail on reset streams


async def serve(
    address: str,
    service: ExternalProcessorService,
    stop: asyncio.Event,
    drain_seconds: float = 10.0,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve on `address` (e.g. unix:/run/airlock/extproc-0-a.sock) until `stop` is set, then
    report NOT_SERVING and keep serving until Envoy's health check has seen it (so no new
    stream is sent here), refuse new streams and let the ones in flight finish."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 8 * 2**20),
            ("grpc.so_reuseport", 0),
        ]
    )
    ep_grpc.add_ExternalProcessorServicer_to_server(StreamWriter(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(address) == 0 and not address.startswith("unix:"):
        raise OSError(f"cannot listen on {address}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if started is not None:
        started()
    await stop.wait()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    await asyncio.sleep(min(drain_seconds, HEALTH_PAUSE_SECONDS))
    await server.stop(grace=drain_seconds)
