"""HTTP protocol violations and abuse (rule key PROTOCOL).

Request smuggling, response splitting and header injection depend on a front end and a back end
reading the same bytes differently; these rules refuse requests whose framing or headers a
well-behaved client would never produce.
"""

from collections.abc import Iterator

import re2

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import HEADER, JSON, META, PARAM, PATH, SEGMENT, Field, Request
from airlock_filters.rules._check import Check, Finding
from airlock_filters.rules._rule import DECODED, Rule

_K = "PROTOCOL"
_DATA = frozenset({SEGMENT, PARAM, JSON, HEADER, PATH})

_HEADER_LINE = (
    r"(?:content-(?:type|length|disposition)|set-cookie|location|refresh|transfer-encoding"
    r"|host|connection|x-[a-z0-9-]{1,40}|remote-addr)"
)

RULES = [
    Rule(
        "PROTOCOL-B01", _K, "Basic", r"[\r\n][\t ]*HTTP/[0-9]|[\r\n]\s*" + _HEADER_LINE + r"\s*:",
        "CR/LF followed by a status line or header: response splitting / header injection",
        kinds=_DATA | {META}, variants=DECODED,
    ),
    Rule(
        "PROTOCOL-S01", _K, "Standard",
        r"[\r\n]\s*(?:GET|POST|PUT|HEAD|DELETE|OPTIONS)\s+\S*\s*HTTP/",
        "a request line inside a value: request smuggling",
        kinds=_DATA, variants=DECODED, caseless=False,
    ),
    Rule(
        "PROTOCOL-S02", _K, "Standard", r"[\r\n]",
        "CR or LF in the path or a header value",
        kinds=frozenset({PATH, META}), variants=DECODED,
    ),
    Rule(
        "PROTOCOL-S03", _K, "Standard", r"\A[^=;]{0,64}%[0-9a-f]{2}",
        "percent-encoding in a header where none is expected",
        kinds=frozenset({META}), variants=DECODED,
    ),
]  # fmt: skip

_METHODS = frozenset(
    [
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
        "CONNECT",
        "TRACE",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "REPORT",
        "SEARCH",
    ]
)
_SAFE_CHARSETS = re2.compile(r"(?i)\A(?:utf-8|utf8|iso-8859-1|us-ascii|windows-1252|latin1)\z")
_CHARSET_RE = re2.compile(r"(?i);\s*charset\s*=\s*\"?([^;\"\s]*)")
_RANGE_RE = re2.compile(r"(?i)\A\s*bytes\s*=\s*(?:[0-9]*-[0-9]*\s*)(?:,\s*[0-9]*-[0-9]*\s*)*\z")
_KNOWN_MEDIA = re2.compile(
    r"(?i)\A(?:application/(?:[a-z0-9.+-]*json|x-www-form-urlencoded|xml|[a-z0-9.+-]*\+xml"
    r"|octet-stream|pdf|graphql|x-ndjson|csp-report|grpc[a-z+-]*|cbor|msgpack|zip|gzip"
    r"|vnd\.[a-z0-9.+-]+)|multipart/(?:form-data|mixed|related|alternative)"
    r"|text/(?:plain|xml|csv|html|markdown|calendar)|image/[a-z0-9.+-]+|audio/[a-z0-9.+-]+"
    r"|video/[a-z0-9.+-]+|font/[a-z0-9.+-]+)\z"
)


def _header(name: str, value: str) -> Field:
    return Field(META, name, value, value, "Header")


def _method(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    if request.method.upper() not in _METHODS:
        yield _header(":method", request.method), request.method[:64]


def _framing(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    length = request.header("content-length")
    encoding = request.header("transfer-encoding")
    if length is not None and encoding is not None:
        yield _header("Transfer-Encoding", encoding), "Content-Length and Transfer-Encoding"
    if encoding is not None and encoding.strip().lower() != "chunked":
        yield _header("Transfer-Encoding", encoding), encoding
    if length is not None and not length.strip().isdigit():
        yield _header("Content-Length", length), length
    names = [n.lower() for n, _ in request.headers]
    for duplicated in ("content-length", "transfer-encoding", "host", "content-type"):
        if names.count(duplicated) > 1:
            yield _header(duplicated, ""), f"repeated {duplicated} header"


def _host(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    host = request.header("host") or request.header(":authority")
    if not host or not host.strip():
        yield _header("Host", ""), "missing or empty Host header"


def _content_type(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    header = request.header("content-type")
    if header is None:
        return
    charsets = _CHARSET_RE.findall(header)
    if len(charsets) > 1:
        yield _header("Content-Type", header), "more than one charset"
    elif charsets and not _SAFE_CHARSETS.search(charsets[0]):
        yield _header("Content-Type", header), f"charset {charsets[0][:32]}"
    if request.body and not _KNOWN_MEDIA.search(parsed.context.media_type):
        yield _header("Content-Type", header), f"unexpected media type {header[:48]}"


def _range(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for name in ("range", "request-range"):
        value = request.header(name)
        if value is None:
            continue
        if name == "request-range" or not _RANGE_RE.search(value) or value.count(",") >= 5:
            yield _header(name, value), value[:48]


def _body_without_type(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    if request.body and request.header("content-type") is None:
        yield _header("Content-Type", ""), "body without Content-Type"
    if request.body and request.method.upper() in ("GET", "HEAD"):
        yield _header(":method", request.method), f"body in a {request.method} request"


def _proxy_header(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    # httpoxy: CGI turns a `Proxy` header into HTTP_PROXY, which many clients honour.
    value = request.header("proxy")
    if value is not None:
        yield _header("Proxy", value), value[:48]


CHECKS = [
    Check("PROTOCOL-B02", _K, "Basic", META, "Content-Length/Transfer-Encoding ambiguity",
          _framing),
    Check("PROTOCOL-B03", _K, "Basic", META, "Proxy header (httpoxy)", _proxy_header),
    Check("PROTOCOL-S10", _K, "Standard", META, "unknown HTTP method", _method),
    Check("PROTOCOL-S11", _K, "Standard", META, "missing Host header", _host),
    Check("PROTOCOL-S12", _K, "Standard", META, "invalid or abusive Range header", _range),
    Check("PROTOCOL-S13", _K, "Standard", META, "odd charset or media type", _content_type),
    Check("PROTOCOL-X10", _K, "Strict", META, "body without Content-Type, or on a GET",
          _body_without_type),
]  # fmt: skip
