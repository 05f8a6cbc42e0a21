"""The processor and the gRPC service on a fake stream: the ext_proc protocol without Envoy."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from google.protobuf import struct_pb2

from airlock_filters.policy import load_policy_set
from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_store import PolicyStore, compile_documents
from airlock_microgateway.processor import BUFFER_LIMIT, FILTER_NAMESPACE, Processor
from airlock_microgateway.service import ExternalProcessorService

Mode = processing_mode_pb2.ProcessingMode

DOCS = [
    ("t", {"apiVersion": "microgateway.airlock.com/v1alpha1", "kind": "ContentSecurityPolicy",
           "metadata": {"name": "open"}, "spec": {"unsecured": {}}}),
    ("t", {"apiVersion": "microgateway.airlock.com/v1alpha1", "kind": "ContentSecurityPolicy",
           "metadata": {"name": "default"}, "spec": {"secured": {}}}),
]  # fmt: skip


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore(compile_documents(DOCS))


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def headers_message(
    method: str, path: str, headers: list[tuple[str, str]] = (), end_of_stream: bool = True
) -> ep.ProcessingRequest:
    pairs = [(":method", method), (":path", path), (":authority", "shop.example"), *headers]
    pairs.append(("x-request-id", "rid-1"))
    attributes = struct_pb2.Struct()
    attributes.update({"source.address": "203.0.113.9:55123"})
    return ep.ProcessingRequest(
        request_headers=ep.HttpHeaders(
            headers=base_pb2.HeaderMap(
                headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs]
            ),
            end_of_stream=end_of_stream,
        ),
        attributes={FILTER_NAMESPACE: attributes},
    )


def body_message(data: bytes, end_of_stream: bool) -> ep.ProcessingRequest:
    return ep.ProcessingRequest(request_body=ep.HttpBody(body=data, end_of_stream=end_of_stream))


def processor(store: PolicyStore, log: io.StringIO, name: str = "default") -> Processor:
    compiled = store.current.get(name)
    assert compiled is not None
    return Processor(compiled, Observer(log))


def test_get_is_decided_on_headers_and_gets_header_rewrites(store, log) -> None:
    p = processor(store, log)
    reply = p.handle(
        headers_message("GET", "/a?b=1", [("x-real-ip", "1.2.3.4"), ("x-custom", "1")])
    )
    assert reply.WhichOneof("response") == "request_headers"
    removed = reply.request_headers.response.header_mutation.remove_headers
    assert "x-custom" in removed  # not a standard header: the allow-list drops it
    assert "x-request-id" not in removed
    assert not reply.HasField("mode_override")
    assert p.request is not None and p.request.remote_ip == "203.0.113.9"
    assert ("host", "shop.example") in p.request.headers
    assert log.getvalue() == ""  # allowed requests are in Envoy's access log only


def test_attack_gets_an_immediate_400_and_a_log_line(store, log) -> None:
    p = processor(store, log)
    reply = p.handle(
        headers_message("GET", "/?q=<script>alert(1)</script>", [("accept", "application/json")])
    )
    assert reply.WhichOneof("response") == "immediate_response"
    immediate = reply.immediate_response
    assert immediate.status.code == 400
    assert json.loads(immediate.body)["request_id"] == "rid-1"
    assert immediate.details == "airlock_blocked_deny_rules"
    assert p.done
    line = json.loads(log.getvalue())
    assert line["event.action"] == "block" and line["airlock.block_subtype"] == "xss"
    assert line["source.ip"] == "203.0.113.9"


def test_small_body_is_buffered_then_decided(store, log) -> None:
    p = processor(store, log)
    body = b'{"q": "1 UNION SELECT password FROM users"}'
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    reply = p.handle(headers_message("POST", "/api", headers, end_of_stream=False))
    assert reply.mode_override.request_body_mode == Mode.BUFFERED
    assert reply.mode_override.response_header_mode == Mode.SKIP
    reply = p.handle(body_message(body, True))
    assert reply.immediate_response.status.code == 400


def test_chunked_body_is_buffered_by_envoy_up_to_its_limit(store, log) -> None:
    p = processor(store, log)
    reply = p.handle(headers_message("POST", "/api", [("content-type", "application/json")], False))
    assert reply.mode_override.request_body_mode == Mode.BUFFERED_PARTIAL
    reply = p.handle(body_message(b'{"a": "<script>alert(1)</script>"}', True))
    assert reply.immediate_response.status.code == 400


def test_chunked_body_beyond_envoys_buffer_is_over_the_json_limit(store, log) -> None:
    p = processor(store, log)
    p.handle(headers_message("POST", "/api", [("content-type", "application/json")], False))
    reply = p.handle(body_message(b" " * BUFFER_LIMIT, False))  # only the beginning
    assert reply.immediate_response.status.code == 400
    assert json.loads(log.getvalue())["event.reason"] == "LIMITS"


def test_chunked_multipart_is_streamed_and_the_last_chunk_decides(store, log) -> None:
    p = processor(store, log)
    headers = [("content-type", "multipart/form-data; boundary=b")]
    reply = p.handle(headers_message("POST", "/up", headers, False))
    assert reply.mode_override.request_body_mode == Mode.STREAMED
    first = b'--b\r\nContent-Disposition: form-data; name="t"\r\n\r\n'
    assert p.handle(body_message(first, False)).WhichOneof("response") == "request_body"
    last = b"<script>alert(1)</script>\r\n--b--\r\n"
    assert p.handle(body_message(last, False)).WhichOneof("response") == "request_body"
    assert p.handle(body_message(b"", True)).immediate_response.status.code == 400


def test_content_length_completes_the_body_before_end_of_stream(store, log) -> None:
    """Envoy may pass the last bytes before its end-of-stream message; the upstream has the
    whole request by then, so the completing chunk must carry the decision."""
    size = BUFFER_LIMIT + 10
    body = b'--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n'
    tail = b'\r\n--b\r\nContent-Disposition: form-data; name="t"\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n'
    body += b"A" * (size - len(body) - len(tail)) + tail
    headers = [("content-type", "multipart/form-data; boundary=b"), ("content-length", str(size))]
    p = processor(store, log)
    assert (
        p.handle(headers_message("POST", "/up", headers, False)).mode_override.request_body_mode
        == Mode.STREAMED
    )
    assert (
        p.handle(body_message(body[:BUFFER_LIMIT], False)).WhichOneof("response") == "request_body"
    )
    assert p.handle(body_message(body[BUFFER_LIMIT:], False)).immediate_response.status.code == 400


def test_declared_length_over_the_limit_blocks_before_the_body(store, log) -> None:
    p = processor(store, log)
    headers = [("content-type", "application/json"), ("content-length", str(200 * 2**10))]
    reply = p.handle(headers_message("POST", "/api", headers, False))
    assert reply.immediate_response.status.code == 400
    assert json.loads(log.getvalue())["event.reason"] == "LIMITS"


def test_streamed_body_over_the_limit_blocks_mid_stream() -> None:
    small = [*DOCS, ("t", {"apiVersion": "microgateway.airlock.com/v1alpha1", "kind": "Limits",
             "metadata": {"name": "small"},
             "spec": {"request": {"limited": {"multipart": {"bodySize": "1500Ki"}}}}}),
             ("t", {"apiVersion": "microgateway.airlock.com/v1alpha1", "kind": "ContentSecurityPolicy",
             "metadata": {"name": "small"}, "spec": {"secured": {"limitsRef": {"name": "small"}}}})]  # fmt: skip
    compiled = compile_documents(small).get("small")
    assert compiled is not None
    log = io.StringIO()
    p = Processor(compiled, Observer(log))
    headers = [("content-type", "multipart/form-data; boundary=b")]
    p.handle(headers_message("POST", "/up", headers, False))
    chunk = b"--b\r\n" + b" " * BUFFER_LIMIT
    assert p.handle(body_message(chunk, False)).WhichOneof("response") == "request_body"
    assert p.handle(body_message(chunk, False)).immediate_response.status.code == 400
    assert json.loads(log.getvalue())["event.reason"] == "LIMITS"


def test_multipart_without_boundary_is_a_parser_block(store, log) -> None:
    p = processor(store, log)
    reply = p.handle(
        headers_message("POST", "/up", [("content-type", "multipart/form-data")], False)
    )
    assert reply.immediate_response.status.code == 400
    assert json.loads(log.getvalue())["event.reason"] == "PARSER"


def test_unsecured_policy_passes_everything(store, log) -> None:
    p = processor(store, log, "open")
    reply = p.handle(headers_message("GET", "/?q=<script>alert(1)</script>"))
    assert reply.WhichOneof("response") == "request_headers"


def test_unrequested_phases_pass_through(store, log) -> None:
    p = processor(store, log)
    p.handle(headers_message("GET", "/"))
    reply = p.handle(ep.ProcessingRequest(response_body=ep.HttpBody(body=b"x")))
    assert reply.WhichOneof("response") == "response_body"


# -- the gRPC service with a fake stream ----------------------------------------------------------


class FakeContext:
    def __init__(self, metadata: list[tuple[str, str]]) -> None:
        self.metadata = metadata
        self.aborted: tuple[Any, str] | None = None

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata

    async def abort(self, code: Any, details: str) -> None:
        self.aborted = (code, details)
        raise grpc.RpcError(details)


async def _stream(messages: list[ep.ProcessingRequest]) -> AsyncIterator[ep.ProcessingRequest]:
    for message in messages:
        yield message


def run_stream(
    service: ExternalProcessorService, metadata: list[tuple[str, str]], messages: list
) -> tuple[list[ep.ProcessingResponse], FakeContext]:
    context = FakeContext(metadata)

    async def collect() -> list[ep.ProcessingResponse]:
        out = []
        try:
            async for reply in service.Process(_stream(messages), context):  # type: ignore[arg-type]
                out.append(reply)
        except grpc.RpcError:
            pass
        return out

    return asyncio.run(collect()), context


@pytest.fixture
def service(store, log) -> Iterator[ExternalProcessorService]:
    yield ExternalProcessorService(store, Observer(log))


def test_service_selects_the_policy_from_stream_metadata(service) -> None:
    attack = headers_message("GET", "/?q=<script>alert(1)</script>")
    replies, _ = run_stream(service, [("x-airlock-policy", "open")], [attack])
    assert replies[0].WhichOneof("response") == "request_headers"
    replies, _ = run_stream(service, [], [attack])  # no metadata: the default policy
    assert replies[0].WhichOneof("response") == "immediate_response"


def test_unknown_policy_aborts_the_stream(service) -> None:
    replies, context = run_stream(
        service, [("x-airlock-policy", "nope")], [headers_message("GET", "/")]
    )
    assert replies == []
    assert context.aborted is not None and context.aborted[0] == grpc.StatusCode.NOT_FOUND


def test_processing_error_aborts_instead_of_passing(service) -> None:
    replies, context = run_stream(service, [], [body_message(b"body before headers", True)])
    assert replies == []
    assert context.aborted is not None and context.aborted[0] == grpc.StatusCode.INTERNAL


def test_policy_set_has_a_default_even_without_one() -> None:
    policies = load_policy_set([DOCS[0]])
    assert set(policies) == {"open", "default"}
    assert policies["default"].secured and not policies["open"].secured
