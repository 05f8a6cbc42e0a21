"""Fuzzing: no exception escapes a parser or `inspect` except the engine's own ParseError and
LimitExceeded (which `inspect` turns into a block).

Hypothesis drives each parser and the whole engine with generated and mutated requests; the
number of examples bounds the run (set AIRLOCK_FUZZ_EXAMPLES to fuzz longer).
"""

from __future__ import annotations

import contextlib
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock_filters.engine import Engine
from airlock_filters.errors import LimitExceeded, ParseError
from airlock_filters.normalize import html_decode, normalize, normalize_path
from airlock_filters.parsers import (
    _ParamCounter,
    json_fields,
    multipart_boundary,
    multipart_fields,
    parse_request,
    query_fields,
)
from airlock_filters.policy import RequestContext, default_policy
from airlock_filters.request import Request

EXAMPLES = int(os.environ.get("AIRLOCK_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
POLICY = default_policy("Strict")
ENGINES = {impl: Engine(POLICY, implementation=impl) for impl in ("hyperscan", "re2")}
CTX = RequestContext("POST", "/", [], "127.0.0.1", "")

# Characters that matter to the parsers, mixed with arbitrary text.
SPECIAL = st.sampled_from([*"%&=;+?#/\\\"'{}[]:,\r\n\x00<>$.-", "%25", "%u", "%c0%ae", "--"])
TEXT = st.lists(st.one_of(SPECIAL, st.text(max_size=8)), max_size=30).map("".join)
BYTES = st.one_of(TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=300))


def _counter() -> _ParamCounter:
    return _ParamCounter(POLICY.limits, CTX)


@FUZZ
@given(TEXT)
def test_normalizers(text: str) -> None:
    normalize(text)
    html_decode(text)
    assert normalize_path(text).startswith("/")


@FUZZ
@given(TEXT)
def test_query_parser(text: str) -> None:
    with contextlib.suppress(LimitExceeded):
        query_fields(text, _counter())


@FUZZ
@given(BYTES)
def test_json_parser(body: bytes) -> None:
    with contextlib.suppress(ParseError, LimitExceeded):
        json_fields(body, POLICY.limits, CTX)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    boundary = draw(st.sampled_from(["b", "----WebKitFormBoundaryX", "x y"]))
    parts = draw(st.lists(st.tuples(TEXT, TEXT, st.booleans()), max_size=4))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    body = ""
    for name, value, is_file in parts:
        extra = f'; filename="{value}"' if is_file else ""
        body += f'--{boundary}{newline}Content-Disposition: form-data; name="{name}"{extra}'
        body += f"{newline}{newline}{value}{newline}"
    body += f"--{boundary}--" + draw(st.sampled_from(["", newline]))
    mutated = draw(st.one_of(st.just(body), TEXT.map(lambda t: body[: len(t) * 3] + t)))
    return f'multipart/form-data; boundary="{boundary}"', mutated.encode("utf-8", "surrogatepass")


@FUZZ
@given(multipart_bodies())
def test_multipart_parser(case: tuple[str, bytes]) -> None:
    content_type, body = case
    with contextlib.suppress(ParseError, LimitExceeded):
        multipart_fields(body, multipart_boundary(content_type), _counter())


HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["Host", "Cookie", "Content-Type", "User-Agent", "Range", "X-A", "a b"]),
        TEXT,
    ),
    max_size=6,
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
     "text/xml", "application/octet-stream", ""]
)  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> Request:
    headers = draw(HEADERS)
    content_type = draw(CONTENT_TYPES)
    if content_type:
        headers.append(("Content-Type", content_type))
    return Request(
        method=draw(st.sampled_from(["GET", "POST", "PUT", "FOO", "g\x00t"])),
        target="/" + draw(TEXT),
        headers=headers,
        body=draw(st.one_of(st.none(), BYTES)),
        remote_ip=draw(st.sampled_from(["127.0.0.1", "::1", "not-an-ip"])),
    )


@FUZZ
@given(requests())
def test_parse_request(request: Request) -> None:
    with contextlib.suppress(ParseError, LimitExceeded):
        parse_request(request, POLICY)


@FUZZ
@given(requests())
def test_inspect_never_raises_and_twins_agree(request: Request) -> None:
    decisions = {impl: engine.inspect(request) for impl, engine in ENGINES.items()}
    compiled, pure = decisions["hyperscan"], decisions["re2"]
    assert compiled.action in ("allow", "block", "log")
    assert (compiled.action, compiled.reason) == (pure.action, pure.reason)
    assert sorted(m.rule_id for m in compiled.matches) == sorted(m.rule_id for m in pure.matches)
