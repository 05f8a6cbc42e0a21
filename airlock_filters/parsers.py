"""Request parsers: split a request into typed fields, checking limits as they go.

Every parser raises `ParseError` for input it cannot read and `LimitExceeded` as soon as a limit
is crossed, before the over-limit part is copied or decoded.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from airlock_filters.errors import LimitExceeded, ParseError
from airlock_filters.normalize import decode_utf8, normalize_path, percent_decode
from airlock_filters.policy import ContentSecurity, Limits, RequestContext
from airlock_filters.prepare import Pairs, fields_by_kind, json_document_fields, split_names
from airlock_filters.request import HEADER, META, PARAM, PATH, SEGMENT, Field, Request

# Headers with a fixed grammar: injection rules do not look at them (see request.META).
META_HEADERS = frozenset(
    [
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "access-control-request-headers",
        "access-control-request-method",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "date",
        "dnt",
        "expect",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "keep-alive",
        "origin",
        "pragma",
        "priority",
        "proxy-authorization",
        "range",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "sec-ch-ua-full-version-list",
        "sec-ch-ua-model",
        "sec-ch-ua-platform-version",
        "sec-ch-ua-arch",
        "sec-ch-ua-bitness",
        "sec-fetch-dest",
        "sec-fetch-mode",
        "sec-fetch-site",
        "sec-fetch-user",
        "sec-gpc",
        "te",
        "traceparent",
        "tracestate",
        "transfer-encoding",
        "upgrade",
        "upgrade-insecure-requests",
        "via",
        "x-request-id",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-requested-with",
        "x-correlation-id",
        "x-amzn-trace-id",
    ]
)

_MEDIA_TYPE_RE = re.compile(r"^\s*([^;\s]*)")
_BOUNDARY_RE = re.compile(r';\s*boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;,"]{1,200}))', re.I)
_PART_HEADER_RE = re.compile(r'(\w[\w*]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))')


@dataclass(slots=True)
class ParsedRequest:
    fields: list[Field]
    context: RequestContext
    body_parser: str | None = None
    _by_kind: dict[int, list[Field]] | None = field(default=None, init=False, repr=False)
    _split: dict[int, tuple[list[Field], list[Field]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def of_kind(self, kind: int) -> list[Field]:
        """The fields of one kind, so a check about headers need not walk a JSON document."""
        if self._by_kind is None:
            self._by_kind = fields_by_kind(self.fields)
        return self._by_kind.get(kind, [])

    def names_of(self, kind: int) -> list[Field]:
        """The fields of one kind that carry a name (parameter, cookie or JSON key)."""
        return self._names_and_values(kind)[0]

    def values_of(self, kind: int) -> list[Field]:
        """The fields of one kind that carry a value."""
        return self._names_and_values(kind)[1]

    def _names_and_values(self, kind: int) -> tuple[list[Field], list[Field]]:
        split = self._split.get(kind)
        if split is None:
            split = self._split[kind] = split_names(self.of_kind(kind))
        return split


def media_type(request: Request, default: str) -> str:
    header = request.header("content-type")
    if header is None:
        return default if request.body else ""
    match = _MEDIA_TYPE_RE.match(header)
    return match.group(1).lower() if match else ""


def parse_request(request: Request, policy: ContentSecurity) -> ParsedRequest:
    """All fields of a request, or ParseError / LimitExceeded."""
    limits = policy.limits
    raw_path, _, raw_query = request.target.partition("?")
    raw_path = raw_path.partition("#")[0]
    if limits.enabled and len(raw_path) > limits.path_length:
        raise LimitExceeded("general.pathLength", f"path is longer than {limits.path_length}")
    if "\x00" in request.method or not request.method.isascii():
        raise ParseError("method is not a token")
    ctx = RequestContext(
        method=request.method.upper(),
        path=normalize_path(raw_path),
        headers=request.headers,
        remote_ip=request.remote_ip,
        media_type=media_type(request, policy.parser.default_content_type),
    )
    fields: list[Field] = []
    _check_headers(request, limits)
    fields.extend(path_fields(raw_path))
    counter = _ParamCounter(limits, ctx)
    fields.extend(query_fields(raw_query, counter))
    fields.extend(header_fields(request.headers))
    parsed = ParsedRequest(fields, ctx)
    body = request.body
    if body:
        if limits.enabled and len(body) > limits.body_size:
            raise LimitExceeded("general.bodySize", f"body is larger than {limits.body_size}")
        parsed.body_parser = policy.parser.body_parser(ctx)
        if parsed.body_parser == "form":
            if limits.enabled and len(body) > limits.param_body_size:
                raise LimitExceeded(
                    "parameter.bodySize", f"form body is larger than {limits.param_body_size}"
                )
            fields.extend(form_fields(body, counter))
        elif parsed.body_parser == "json":
            if limits.enabled and len(body) > limits.json_body_size:
                raise LimitExceeded(
                    "json.bodySize", f"JSON body is larger than {limits.json_body_size}"
                )
            fields.extend(json_fields(body, limits, ctx))
        elif parsed.body_parser == "multipart":
            if limits.enabled and len(body) > limits.multipart_body_size:
                raise LimitExceeded(
                    "multipart.bodySize",
                    f"multipart body is larger than {limits.multipart_body_size}",
                )
            boundary = multipart_boundary(request.header("content-type") or "")
            fields.extend(multipart_fields(body, boundary, counter))
        elif parsed.body_parser is None and not _is_binary(body):
            # XML, text and unknown bodies are still application input: inspect them whole, as
            # far as a form body may go (larger ones are uploads, not parameters).
            text = decode_utf8(body[: limits.param_body_size])
            fields.append(Field(PARAM, "", text, text, "Body", encoded=False))
    return parsed


def _is_binary(body: bytes) -> bool:
    head = body[:512]
    return b"\x00" in head or sum(byte < 9 or 13 < byte < 32 for byte in head) > len(head) // 10


def _check_headers(request: Request, limits: Limits) -> None:
    if not limits.enabled:
        return
    if len(request.headers) > limits.header_count:
        raise LimitExceeded("header.count", f"more than {limits.header_count} headers")
    for name, value in request.headers:
        if len(name) + len(value) > limits.header_size:
            raise LimitExceeded(
                "header.size", f"header {name[:64]!r} is larger than {limits.header_size}", name
            )


def path_fields(raw_path: str) -> Iterator[Field]:
    yield Field(PATH, "", _decode_component(raw_path, plus_as_space=False), raw_path, "Path")
    for index, raw_segment in enumerate(raw_path.split("/")[1:]):
        if raw_segment:
            value = _decode_component(raw_segment, plus_as_space=False)
            yield Field(SEGMENT, str(index), value, raw_segment, "Path")


def _decode_component(raw: str, plus_as_space: bool) -> str:
    if "%" not in raw and not (plus_as_space and "+" in raw):
        return raw
    return decode_utf8(percent_decode(raw.encode("utf-8", "surrogatepass"), plus_as_space))


class _ParamCounter:
    """Counts parameters across query and body and checks their limits, with exceptions."""

    def __init__(self, limits: Limits, ctx: RequestContext) -> None:
        self.limits = limits
        self.count = 0
        self.exempt = [
            exc
            for exc in limits.exceptions
            if exc.parameter is not None and (exc.conditions is None or exc.conditions(ctx))
        ]

    def _exempt(self, name: str, source: str) -> bool:
        return any(
            exc.source in ("Any", source) and exc.parameter is not None and exc.parameter(name)
            for exc in self.exempt
        )

    def add(self, raw_name: str, raw_value: str, name: str, source: str) -> None:
        limits = self.limits
        if not limits.enabled:
            return
        self.count += 1
        if self.count > limits.param_count:
            raise LimitExceeded("parameter.count", f"more than {limits.param_count} parameters")
        too_long_name = len(raw_name) > limits.param_name_length
        too_long_value = len(raw_value) > limits.param_value_length
        if (too_long_name or too_long_value) and not self._exempt(name, source):
            if too_long_name:
                raise LimitExceeded(
                    "parameter.nameLength",
                    f"parameter name longer than {limits.param_name_length}",
                    name[:128],
                )
            raise LimitExceeded(
                "parameter.valueLength",
                f"value of parameter {name[:128]!r} longer than {limits.param_value_length}",
                name[:128],
            )


def query_fields(raw_query: str, counter: _ParamCounter, source: str = "Query") -> list[Field]:
    out: list[Field] = []
    if not raw_query:
        return out
    for pair in raw_query.split("&"):
        if not pair:
            continue
        raw_name, eq, raw_value = pair.partition("=")
        name = _decode_component(raw_name, plus_as_space=True)
        counter.add(raw_name, raw_value, name, source)
        out.append(Field(PARAM, name, name, raw_name, source, is_name=True))
        if eq:
            value = _decode_component(raw_value, plus_as_space=True)
            out.append(Field(PARAM, name, value, raw_value, source))
    return out


def form_fields(body: bytes, counter: _ParamCounter) -> list[Field]:
    return query_fields(decode_utf8(body), counter, "Post")


def header_fields(headers: list[tuple[str, str]]) -> Iterator[Field]:
    for name, value in headers:
        lowered = name.lower()
        if lowered == "cookie":
            yield from cookie_fields(name, value)
        elif lowered in META_HEADERS:
            yield Field(META, name, value, value, "Header", encoded=False)
        else:
            yield Field(HEADER, name, value, value, "Header", encoded=False)


def cookie_fields(header_name: str, header_value: str) -> Iterator[Field]:
    # A cookie field's name is the header's, so header exceptions on "Cookie" cover them; the
    # cookie's own name is a field of its own.
    for pair in header_value.split(";"):
        cookie_name, eq, cookie_value = pair.strip().partition("=")
        if not cookie_name and not eq:
            continue
        yield Field(HEADER, header_name, cookie_name, cookie_name, "Cookie", is_name=True)
        if eq:
            value = _decode_component(cookie_value, plus_as_space=False)
            yield Field(HEADER, header_name, value, cookie_value, "Cookie")


# --- JSON -------------------------------------------------------------------------------------


def json_fields(body: bytes, limits: Limits, ctx: RequestContext) -> list[Field]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON body is not valid UTF-8 (byte {exc.start})") from None

    max_keys = limits.json_key_count if limits.enabled else _UNLIMITED

    def pairs_hook(pairs: list[tuple[str, Any]]) -> Pairs:
        # Called for every object of the document: kept to the bare minimum.
        if len(pairs) > max_keys:
            raise LimitExceeded("json.keyCount", f"JSON object with more than {max_keys} keys")
        return Pairs(pairs)  # kept as pairs: duplicate keys must all be inspected

    try:
        document = json.loads(text, object_pairs_hook=pairs_hook)
    except LimitExceeded:
        raise
    except RecursionError:
        # The decoder gives up near the interpreter's recursion limit, long before memory
        # matters; deeper than that is over any sensible nesting limit.
        raise LimitExceeded("json.nestingDepth", "JSON nesting too deep to parse") from None
    except ValueError as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    exempt_patterns = [
        e.json_path
        for e in limits.exceptions
        if e.json_path is not None and (e.conditions is None or e.conditions(ctx))
    ]
    enabled = limits.enabled
    return json_document_fields(
        document,
        limits.json_key_length if enabled else _UNLIMITED,
        limits.json_value_length if enabled else _UNLIMITED,
        limits.json_element_count if enabled else _UNLIMITED,
        limits.json_nesting_depth if enabled else _UNLIMITED,
        exempt_patterns,
    )


_UNLIMITED = sys.maxsize


# --- multipart --------------------------------------------------------------------------------


def multipart_boundary(content_type: str) -> bytes:
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        raise ParseError("multipart body without a boundary parameter")
    return (match.group(1) or match.group(2)).encode("latin-1", "replace")


def multipart_fields(body: bytes, boundary: bytes, counter: _ParamCounter) -> list[Field]:
    out: list[Field] = []
    found = _find_delimiter(body, boundary, 0)
    if found is None:
        raise ParseError("multipart body does not contain its boundary")
    while True:
        _, end, closing = found
        if closing:
            return out
        following = _find_delimiter(body, boundary, end)
        if following is None:
            raise ParseError("multipart body not terminated by its closing boundary")
        # Searched in place: a file part can be megabytes that are never looked at again.
        split = _HEADER_END_RE.search(body, end, following[0])
        if split is None:
            raise ParseError("multipart part without end of headers")
        headers = body[end : split.start()].decode("utf-8", "replace")
        out.extend(_multipart_part(headers, body, split.end(), following[0], counter))
        found = following


def _find_delimiter(body: bytes, boundary: bytes, position: int) -> tuple[int, int, bool] | None:
    """(start, end, closing) of the next delimiter line at or after `position`.

    Lines may end in CRLF (the standard) or a bare LF (lenient servers accept it, so an attacker
    can use it); both are taken so neither form hides a part from inspection. `bytes.find`
    keeps this linear in the body size, file contents included.
    """
    marker = b"--" + boundary
    at = body.find(marker, position)
    while at >= 0:
        line_start = at == 0 or body[at - 1 : at] == b"\n"
        after = at + len(marker)
        closing = body.startswith(b"--", after)
        if closing:
            after += 2
        while body[after : after + 1] in (b" ", b"\t"):
            after += 1
        if body.startswith(b"\r\n", after):
            line_end = after + 2
        elif body.startswith(b"\n", after) or after == len(body):
            line_end = min(after + 1, len(body))
        else:
            line_end = -1
        if line_start and line_end >= 0:
            start = at - (2 if body[at - 2 : at] == b"\r\n" else 1 if at else 0)
            return start, line_end, closing
        at = body.find(marker, at + 1)
    return None


_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")


def _multipart_part(
    headers: str, body: bytes, start: int, stop: int, counter: _ParamCounter
) -> list[Field]:
    """The fields of the part whose headers are `headers` and content `body[start:stop]`."""
    disposition = ""
    for line in headers.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            disposition = value
    if not disposition:
        raise ParseError("multipart part without Content-Disposition")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PART_HEADER_RE.finditer(disposition)}  # fmt: skip
    name = params.get("name")
    if name is None:
        raise ParseError("multipart part without a name")
    out: list[Field] = []
    filename = params.get("filename")
    if filename is None and "filename*" in params:
        filename = decode_utf8(percent_decode(params["filename*"].split("''")[-1].encode()))
    if filename is not None:
        # File contents are data for the application, not parameters; the name is a parameter.
        counter.add(name, filename, name, "Post")
        out.append(Field(PARAM, name, filename, filename, "FileName", encoded=False))
        return out
    value = decode_utf8(body[start:stop])
    counter.add(name, value, name, "Post")
    out.append(Field(PARAM, name, name, name, "Post", is_name=True, encoded=False))
    out.append(Field(PARAM, name, value, value, "Post", encoded=False))
    return out
