"""An ext_proc server that lets everything pass without looking: the ceiling of a Python sidecar.

The gateway bench (bench/gateway_speed.py) puts it behind the same Envoy bootstrap as the real
sidecar. It speaks the same gRPC (grpc.aio, a unix socket per worker process, the health service
Envoy checks) and answers every message with CONTINUE at once: what is left is the cost of
Envoy's ext_proc filter and of Python gRPC per stream, which no sidecar written this way can go
below.

Usage: python bench/bare_extproc.py SOCKET [SOCKET ...]   (one worker process per socket)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sys
from collections.abc import AsyncIterator

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor"


def passing(request: ep.ProcessingRequest) -> ep.ProcessingResponse:
    """CONTINUE for whichever phase the request is of."""
    response = ep.ProcessingResponse()
    phase = request.WhichOneof("request")
    getattr(response, phase).response.status = ep.CommonResponse.CONTINUE
    return response


class BareProcessor(ep_grpc.ExternalProcessorServicer):
    async def Process(
        self, request_iterator: AsyncIterator[ep.ProcessingRequest], context: object
    ) -> AsyncIterator[ep.ProcessingResponse]:
        async for request in request_iterator:
            yield passing(request)


async def serve(socket_path: str) -> None:
    server = grpc.aio.server()
    ep_grpc.add_ExternalProcessorServicer_to_server(BareProcessor(), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"unix:{socket_path}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(grace=1)


def worker(socket_path: str) -> None:
    asyncio.run(serve(socket_path))


def main(sockets: list[str]) -> int:
    if not sockets:
        print(__doc__, file=sys.stderr)
        return 2
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=worker, args=(path,)) for path in sockets]
    for process in workers:
        process.start()

    def stop(*_: object) -> None:
        for process in workers:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    for process in workers:
        process.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
