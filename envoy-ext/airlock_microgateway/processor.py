"""One Processor per ext_proc stream, i.e. per HTTP request: one method per phase.

Envoy is configured to send request headers only; the answer to the headers asks for the body
(mode override) when the request has one: BUFFERED when its length is known and fits Envoy's
buffer, BUFFERED_PARTIAL for a chunked body that is not multipart, STREAMED otherwise (see
body.py). Response headers are asked for only on routes whose response rewrites Envoy cannot
do itself. A phase that is not requested passes through unchanged.

Every failure inside a phase raises: the service then aborts the stream with an error, and
Envoy (failure_mode_allow: false) answers the client with a 5xx. Nothing fails open.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.type.v3 import http_status_pb2

from airlock_filters import decision as d
from airlock_filters.errors import LimitExceeded, ParseError
from airlock_filters.normalize import normalize_path
from airlock_filters.parsers import media_type, multipart_boundary
from airlock_filters.policy import ContentSecurity, RequestContext
from airlock_filters.request import Request
from airlock_microgateway.blocking import block_page
from airlock_microgateway.body import BodyCollector
from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_store import CompiledPolicy

# Bodies of known length up to this size are buffered by Envoy and sent in one message; it is
# the engine listener's per-connection buffer limit in the Envoy configuration.
BUFFER_LIMIT = 2**20
FILTER_NAMESPACE = "envoy.filters.http.ext_proc"

_Mode = processing_mode_pb2.ProcessingMode
_ADD_IF_ABSENT = base_pb2.HeaderValueOption.ADD_IF_ABSENT
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


def _header_value(header: base_pb2.HeaderValue) -> str:
    # Envoy sends raw bytes; undecodable bytes survive as surrogates for the engine to judge.
    if header.raw_value:
        return header.raw_value.decode("utf-8", "surrogateescape")
    return header.value


def _mutation(set_headers: Sequence[tuple[str, str, bool]], remove: Sequence[str]) -> Any:
    return ep.HeaderMutation(
        set_headers=[
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(
                    key=name, raw_value=value.encode("utf-8", "surrogateescape")
                ),
                append_action=_OVERWRITE if overwrite else _ADD_IF_ABSENT,
            )
            for name, value, overwrite in set_headers
        ],
        remove_headers=list(remove),
    )


class Processor:
    """Decides about one request; `handle` answers each message Envoy sends on the stream."""

    def __init__(self, compiled: CompiledPolicy, observer: Observer) -> None:
        self.compiled = compiled
        self.observer = observer
        self.request: Request | None = None
        # Nothing more to ask Envoy: the service then closes the stream itself. (Waiting for
        # Envoy to end it costs a round trip, and a stream Envoy cancels leaks memory in
        # grpc.aio.) A cleanly closed stream lets Envoy go on without the sidecar, so this is
        # only set once every phase the sidecar asked for has been answered.
        self.done = False
        self._started = 0.0
        self._body: BodyCollector | None = None
        self._mutation: ep.HeaderMutation | None = None
        self._length: int | None = None  # Content-Length of the body, if given
        self._decided = False
        self._partial = False  # BUFFERED_PARTIAL: one message, maybe only the beginning
        self._ctx: RequestContext | None = None

    def handle(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse:
        phase = message.WhichOneof("request")
        if phase == "request_headers":
            return self.request_headers(message)
        if phase == "request_body":
            return self.request_body(message.request_body)
        if phase == "request_trailers":
            return ep.ProcessingResponse(request_trailers=ep.TrailersResponse())
        if phase == "response_headers":
            return self.response_headers(message.response_headers)
        if phase == "response_body":
            return ep.ProcessingResponse(response_body=ep.BodyResponse())
        if phase == "response_trailers":
            return ep.ProcessingResponse(response_trailers=ep.TrailersResponse())
        raise ValueError(f"unexpected ext_proc message {phase!r}")

    # -- phases -------------------------------------------------------------------------------

    def request_headers(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse:
        self._started = time.perf_counter()
        headers = message.request_headers
        request = self.request = _request_from(headers, message)
        policy = self.compiled.policy
        if not policy.secured:
            self.done = True
            return ep.ProcessingResponse(request_headers=ep.HeadersResponse())
        has_body = not headers.end_of_stream
        ctx = _context(request, policy, has_body)
        self._ctx = ctx
        rewrites = self.compiled.rewrites
        if rewrites.enforced:
            changes = rewrites.request_changes(request.headers, ctx)
            # The request id ties Envoy's access log, our log and the upstream's log together.
            remove = [name for name in changes.remove if name != "x-request-id"]
            self._mutation = _mutation(changes.set, remove)
        if not has_body:
            return self._decide(request, body_phase=False)

        parser = policy.parser.body_parser(ctx)
        boundary = None
        if parser == "multipart":
            try:
                boundary = multipart_boundary(request.header("content-type") or "")
            except ParseError as exc:
                return self._finish(d.Decision(d.BLOCK, 400, d.PARSER, detail=str(exc)), False)
        length = self._length = _content_length(request)
        self._body = BodyCollector(policy.limits, parser, boundary)
        exceeded = self._body.over_limit(length or 0)
        if exceeded is not None:
            blocked = self._limit_exceeded(exceeded)
            if blocked is not None:
                return blocked
        if length is not None and length <= BUFFER_LIMIT:
            body_mode = _Mode.BUFFERED
        elif parser == "multipart" or length is not None:
            body_mode = _Mode.STREAMED
        else:
            # A chunked body of unknown length: Envoy buffers up to BUFFER_LIMIT and sends it
            # at once, so nothing reaches the upstream before the decision. Beyond the buffer
            # it sends the first part only (see request_body).
            body_mode = _Mode.BUFFERED_PARTIAL
        self._partial = body_mode == _Mode.BUFFERED_PARTIAL
        response_headers = self.compiled.rewrites.sidecar_response_headers
        mode = _Mode(
            request_header_mode=_Mode.SEND,
            response_header_mode=_Mode.SEND if response_headers else _Mode.SKIP,
            request_body_mode=body_mode,
        )
        response = ep.HeadersResponse(response=ep.CommonResponse(header_mutation=self._mutation))
        return ep.ProcessingResponse(request_headers=response, mode_override=mode)

    def request_body(self, body: ep.HttpBody) -> ep.ProcessingResponse:
        request = self.request
        collector = self._body
        if request is None or collector is None:
            raise ValueError("request body before request headers")
        if self._decided:  # an empty end-of-stream message after the body was complete
            return ep.ProcessingResponse(request_body=ep.BodyResponse())
        try:
            collector.feed(body.body)
        except LimitExceeded as exc:
            blocked = self._limit_exceeded(exc)
            if blocked is not None:
                return blocked
        if self._partial and not body.end_of_stream:
            # The first BUFFER_LIMIT bytes of a longer chunked body: over every form and JSON
            # limit; of any other body the engine reads only the beginning anyway.
            exceeded = collector.over_limit(BUFFER_LIMIT + 1)
            if exceeded is not None:
                blocked = self._limit_exceeded(exceeded)
                if blocked is not None:
                    return blocked
            request.body = collector.body()
            return self._decide(request, body_phase=True)
        # With a Content-Length the upstream has the whole request once the last byte is
        # through, even before Envoy's end-of-stream message: decide on the completing chunk.
        complete = self._length is not None and collector.size >= self._length
        if not (body.end_of_stream or complete):
            return ep.ProcessingResponse(request_body=ep.BodyResponse())
        request.body = collector.body()
        return self._decide(request, body_phase=True)

    def response_headers(self, headers: ep.HttpHeaders) -> ep.ProcessingResponse:
        """Only on routes whose response rewrites Envoy cannot do itself."""
        rewrites = self.compiled.rewrites
        self.done = True
        if not rewrites.enforced:
            return ep.ProcessingResponse(response_headers=ep.HeadersResponse())
        pairs = [(h.key, _header_value(h)) for h in headers.headers.headers]
        changes = rewrites.response_changes(pairs, self._ctx)
        common = ep.CommonResponse(header_mutation=_mutation(changes.set, changes.remove))
        return ep.ProcessingResponse(response_headers=ep.HeadersResponse(response=common))

    # -- decisions ----------------------------------------------------------------------------

    def _limit_exceeded(self, exc: LimitExceeded) -> ep.ProcessingResponse | None:
        """Block now when limits block; in LogOnly, note it once and let the body go on."""
        limits = self.compiled.policy.limits
        assert self.request is not None
        if limits.mode == "Block":
            decision = d.Decision(d.BLOCK, 400, d.LIMITS, detail=str(exc))
            return self._finish(decision, body_phase=self._body is not None)
        if self._body is not None:
            self._body.limit = None  # counted once; the rest streams unchecked in LogOnly
        return None

    def _decide(self, request: Request, body_phase: bool) -> ep.ProcessingResponse:
        return self._finish(self.compiled.engine.inspect(request), body_phase)

    def _finish(self, decision: d.Decision, body_phase: bool) -> ep.ProcessingResponse:
        assert self.request is not None
        self._decided = True
        self.observer.decided(self.request, self.compiled.name, decision, self._started)
        # After the decision only the response headers may still come, if the route asked.
        self.done = decision.blocked or not self.compiled.rewrites.sidecar_response_headers
        if decision.blocked:
            return ep.ProcessingResponse(immediate_response=self._block_response(decision))
        common = ep.CommonResponse(header_mutation=None if body_phase else self._mutation)
        if body_phase:
            return ep.ProcessingResponse(request_body=ep.BodyResponse(response=common))
        return ep.ProcessingResponse(request_headers=ep.HeadersResponse(response=common))

    def _block_response(self, decision: d.Decision) -> ep.ImmediateResponse:
        assert self.request is not None
        status = decision.status or 400
        content_type, body = block_page(self.request.header("accept"), self.request.id, status)
        headers = [("content-type", content_type, True), ("cache-control", "no-store", True)]
        if self.request.id:
            headers.append(("x-request-id", self.request.id, True))
        return ep.ImmediateResponse(
            status=http_status_pb2.HttpStatus(code=status),
            headers=_mutation(headers, ()),
            body=body,
            details=f"airlock_blocked_{(decision.reason or 'unknown').lower()}",
        )


def _request_from(headers: ep.HttpHeaders, message: ep.ProcessingRequest) -> Request:
    method = target = ""
    authority = None
    fields: list[tuple[str, str]] = []
    request_id = ""
    for header in headers.headers.headers:
        name = header.key
        value = _header_value(header)
        if name.startswith(":"):
            if name == ":method":
                method = value
            elif name == ":path":
                target = value
            elif name == ":authority":
                authority = value
            continue
        if name == "x-request-id":
            request_id = value
        fields.append((name, value))
    if authority is not None:
        fields.insert(0, ("host", authority))
    remote_ip = "0.0.0.0"
    attributes = message.attributes.get(FILTER_NAMESPACE)
    if attributes is not None and "source.address" in attributes.fields:
        address = attributes.fields["source.address"].string_value
        remote_ip = address.rpartition(":")[0].strip("[]") or address
    return Request(method or "GET", target or "/", fields, None, remote_ip, request_id)


def _context(request: Request, policy: ContentSecurity, has_body: bool) -> RequestContext:
    """What request conditions see, before the body has arrived."""
    default_type = policy.parser.default_content_type
    if request.header("content-type") is None:
        body_type = default_type if has_body else ""
    else:
        body_type = media_type(request, default_type)
    return RequestContext(
        method=request.method.upper(),
        path=normalize_path(request.target.partition("?")[0].partition("#")[0]),
        headers=request.headers,
        remote_ip=request.remote_ip,
        media_type=body_type,
    )


def _content_length(request: Request) -> int | None:
    value = request.header("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
