"""The sidecar's subscription to its policies: the operator's ADS stream, over mTLS.

The operator serves a Gateway's policy documents as one resource (POLICY_RESOURCE, a
google.protobuf.StringValue holding YAML) to the node id of the Gateway. Each version is
validated here before it replaces the policy file the sidecar watches, so the sidecar never
sees a policy the operator got wrong: an invalid version is NACKed with the reason and the file
keeps the last good one. The file is replaced by a rename, so a reader sees the old or the new
content, never a part.

The CA, certificate and key are read from `tls_dir` (the mounted bootstrap Secret) on every
connect: a renewed certificate is used from the next reconnect on. When the operator is away,
the client retries with a growing delay (up to MAX_BACKOFF seconds) and keeps the file as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import threading
from pathlib import Path
from typing import Any

import grpc
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import wrappers_pb2
from google.rpc import status_pb2

from airlock_filters.errors import PolicyError
from airlock_microgateway.delivery import (
    CA_CERT_KEY,
    POLICY_RESOURCE,
    POLICY_TYPE_URL,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
)
from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_store import validate_documents

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 15.0
STOP_POLL_SECONDS = 0.2
INVALID_ARGUMENT = 3  # google.rpc.Code
CHANNEL_OPTIONS = [
    # A vanished operator (a half-open connection) is noticed and the stream re-opened.
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


class PolicyClientError(Exception):
    """A problem of this side (unreadable TLS files, an unwritable output)."""


def read_credentials(tls_dir: Path) -> grpc.ChannelCredentials:
    try:
        return grpc.ssl_channel_credentials(
            root_certificates=(tls_dir / CA_CERT_KEY).read_bytes(),
            private_key=(tls_dir / TLS_KEY_KEY).read_bytes(),
            certificate_chain=(tls_dir / TLS_CERT_KEY).read_bytes(),
        )
    except OSError as exc:
        raise PolicyClientError(f"cannot read the TLS files in {tls_dir}: {exc}") from None


def validate_text(text: str) -> list[str]:
    """The policy names of a policy resource's YAML; PolicyError names what is wrong."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise PolicyError(POLICY_RESOURCE, f"invalid YAML: {exc}") from None
    return validate_documents([(f"{POLICY_RESOURCE}[{i}]", d) for i, d in enumerate(documents)])


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename over it: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PolicyClient:
    def __init__(
        self,
        address: str,
        node_id: str,
        tls_dir: Path,
        out_file: Path,
        observer: Observer | None = None,
    ) -> None:
        self.address = address
        self.node_id = node_id
        self.tls_dir = Path(tls_dir)
        self.out_file = Path(out_file)
        self.observer = observer or Observer()
        self.version = ""  # the last version accepted; told to the operator on reconnect
        self.connected = asyncio.Event()  # a response came since the last (re)connect

    def log(self, level: str, message: str, **fields: Any) -> None:
        self.observer.log(level, message, **{"airlock.xds.node": self.node_id, **fields})

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the policies until `stop` is set, reconnecting whenever the stream ends."""
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            self.connected.clear()
            try:
                await self._session(stop)
            except grpc.aio.AioRpcError as exc:
                self.log(
                    "warn",
                    f"policy stream to {self.address} ended: {exc.code().name}: {exc.details()}",
                )
            except PolicyClientError as exc:
                self.log("error", str(exc))
            except Exception as exc:  # whatever went wrong, the sidecar keeps following
                self.log("error", f"policy stream to {self.address} failed: {exc!r}")
            if self.connected.is_set():
                backoff = FIRST_BACKOFF
            delay = backoff * random.uniform(0.8, 1.2)  # replicas do not reconnect in step
            backoff = min(backoff * 2, MAX_BACKOFF)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _session(self, stop: asyncio.Event) -> None:
        credentials = read_credentials(self.tls_dir)
        async with grpc.aio.secure_channel(self.address, credentials, CHANNEL_OPTIONS) as channel:
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources()
            await call.write(self._request(node=True))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                while True:
                    read = asyncio.ensure_future(call.read())
                    await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    if not read.done():
                        read.cancel()
                        call.cancel()
                        return
                    response = read.result()
                    if response is grpc.aio.EOF:
                        await call  # raises the status when the server ended the stream
                        return
                    self.connected.set()
                    await call.write(self.on_response(response))
            finally:
                stopped.cancel()

    def _request(
        self, node: bool = False, nonce: str = "", error: str | None = None
    ) -> discovery_pb2.DiscoveryRequest:
        request = discovery_pb2.DiscoveryRequest(
            version_info=self.version,
            type_url=POLICY_TYPE_URL,
            resource_names=[POLICY_RESOURCE],
            response_nonce=nonce,
        )
        if node:
            request.node.CopyFrom(base_pb2.Node(id=self.node_id))
        if error is not None:
            request.error_detail.CopyFrom(status_pb2.Status(code=INVALID_ARGUMENT, message=error))
        return request

    def on_response(
        self, response: discovery_pb2.DiscoveryResponse
    ) -> discovery_pb2.DiscoveryRequest:
        """Apply one response; the ACK or NACK to send back."""
        try:
            text = self._policy_text(response)
            if text is None:
                self.log("warn", "the operator sent no policies; keeping the policy file as is")
            else:
                names = validate_text(text)
                if not self.out_file.exists() or self.out_file.read_bytes() != text.encode():
                    write_atomically(self.out_file, text)
                    self.log(
                        "info",
                        "policies updated",
                        **{"airlock.policies": names, "airlock.xds.version": response.version_info},
                    )
        except PolicyError as exc:
            self.log(
                "error",
                f"policies rejected, keeping the current ones: {exc}",
                **{"airlock.xds.version": response.version_info},
            )
            return self._request(nonce=response.nonce, error=str(exc))
        except OSError as exc:
            message = f"cannot write the policy file {self.out_file}: {exc}"
            self.log("error", message)
            return self._request(nonce=response.nonce, error=message)
        except Exception as exc:  # a validation bug must not pass a policy, nor stop the client
            message = f"cannot validate the policies: {exc!r}"
            self.log("error", message)
            return self._request(nonce=response.nonce, error=message)
        self.version = response.version_info
        return self._request(nonce=response.nonce)

    @staticmethod
    def _policy_text(response: discovery_pb2.DiscoveryResponse) -> str | None:
        if response.type_url != POLICY_TYPE_URL:
            raise PolicyError(POLICY_RESOURCE, f"unexpected type {response.type_url}")
        if not response.resources:
            return None
        if len(response.resources) > 1:
            raise PolicyError(POLICY_RESOURCE, "expected one resource")
        value = wrappers_pb2.StringValue()
        if not response.resources[0].Unpack(value):
            raise PolicyError(
                POLICY_RESOURCE, f"not a StringValue: {response.resources[0].type_url}"
            )
        return str(value.value)


async def follow_policies_async(
    address: str, node_id: str, tls_dir: Path, out_file: Path, stop: asyncio.Event
) -> None:
    await PolicyClient(address, node_id, tls_dir, out_file).run(stop)


def follow_policies(
    address: str,
    node_id: str,
    tls_dir: Path,
    out_file: Path,
    stop: threading.Event | None = None,
) -> None:
    """Blocking: follow the node's policies into `out_file` until `stop` is set (forever
    without one). For a thread of the sidecar supervisor."""
    asyncio.run(_follow_until(PolicyClient(address, node_id, tls_dir, out_file), stop))


async def _follow_until(client: PolicyClient, stop: threading.Event | None) -> None:
    stopped = asyncio.Event()
    if stop is None:
        await client.run(stopped)  # never set: forever
        return

    async def watch(stop: threading.Event) -> None:
        # A threading.Event cannot be awaited; polling it costs nothing worth a thread.
        while not stop.is_set():
            await asyncio.sleep(STOP_POLL_SECONDS)
        stopped.set()

    watcher = asyncio.create_task(watch(stop))
    try:
        await client.run(stopped)
    finally:
        watcher.cancel()
