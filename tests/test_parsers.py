"""Parsers and normalization: every field, typed; broken input raises ParseError."""

from __future__ import annotations

import json

import pytest

from airlock_filters.errors import LimitExceeded, ParseError
from airlock_filters.normalize import html_decode, normalize, normalize_path, url_decode
from airlock_filters.parsers import parse_request
from airlock_filters.policy import default_policy, load_limits
from airlock_filters.request import HEADER, JSON, META, PARAM, PATH, SEGMENT, Request

POLICY = default_policy()


def fields_of(request: Request, policy=POLICY):
    return [
        (f.kind, f.name, f.value, f.source, f.is_name)
        for f in parse_request(request, policy).fields
    ]


def test_path_query_headers_cookies() -> None:
    request = Request(
        "GET",
        "/shop/caf%C3%A9/items?q=red+shoes&size=42&flag",
        [("Host", "x"), ("User-Agent", "UA"), ("Cookie", "sid=abc; theme=dark%20blue")],
    )
    fields = fields_of(request)
    assert (PATH, "", "/shop/café/items", "Path", False) in fields
    assert (SEGMENT, "1", "café", "Path", False) in fields
    assert (PARAM, "q", "red shoes", "Query", False) in fields
    assert (PARAM, "q", "q", "Query", True) in fields
    assert (PARAM, "flag", "flag", "Query", True) in fields
    assert (META, "Host", "x", "Header", False) in fields
    assert (HEADER, "User-Agent", "UA", "Header", False) in fields
    assert (HEADER, "Cookie", "dark blue", "Cookie", False) in fields
    assert (HEADER, "Cookie", "sid", "Cookie", True) in fields


def test_form_body() -> None:
    request = Request("POST", "/f", [("Content-Type", "application/x-www-form-urlencoded")],
                      b"name=O%27Brien&note=a+b%2Bc")  # fmt: skip
    fields = fields_of(request)
    assert (PARAM, "name", "O'Brien", "Post", False) in fields
    assert (PARAM, "note", "a b+c", "Post", False) in fields


def test_json_body_every_key_and_value() -> None:
    body = {"user": {"name": "Zoë", "tags": ["a", 1, True, None]}, "odd key": 2.5}
    request = Request(
        "POST", "/j", [("Content-Type", "application/json")], json.dumps(body).encode()
    )
    fields = fields_of(request)
    assert (JSON, "$.user", "user", "Key", True) in fields
    assert (JSON, "$.user.name", "Zoë", "JSON", False) in fields
    assert (JSON, "$.user.tags[1]", "1", "JSON", False) in fields
    assert (JSON, "$.user.tags[2]", "true", "JSON", False) in fields
    assert (JSON, "$.user.tags[3]", "null", "JSON", False) in fields
    assert (JSON, '$["odd key"]', "2.5", "JSON", False) in fields


def test_json_duplicate_keys_are_all_inspected() -> None:
    request = Request("POST", "/j", [("Content-Type", "application/json")], b'{"a": "1", "a": "2"}')
    values = [f[2] for f in fields_of(request) if f[1] == "$.a" and not f[4]]
    assert values == ["1", "2"]


def _multipart(parts: list[str], boundary: str = "XyZ", newline: str = "\r\n") -> bytes:
    body = "".join(f"--{boundary}{newline}{p}" for p in parts) + f"--{boundary}--{newline}"
    return body.replace("\n", newline).replace("\r\r", "\r").encode()


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_multipart_fields_and_file_names(newline: str) -> None:
    body = _multipart(
        [
            f'Content-Disposition: form-data; name="title"{newline}{newline}Hello{newline}',
            f'Content-Disposition: form-data; name="doc"; filename="my report.pdf"{newline}'
            f"Content-Type: application/pdf{newline}{newline}%PDF-1.4 binary{newline}",
        ],
        newline=newline,
    )
    request = Request("POST", "/u", [("Content-Type", 'multipart/form-data; boundary="XyZ"')], body)
    fields = fields_of(request)
    assert (PARAM, "title", "Hello", "Post", False) in fields
    assert (PARAM, "doc", "my report.pdf", "FileName", False) in fields
    assert not any("binary" in f[2] for f in fields)  # file content is not a parameter


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b'{"a": ', "invalid JSON"),
        ("application/json", b'{"a": "\xff"}', "not valid UTF-8"),
        ("multipart/form-data", b"--x\r\n", "boundary parameter"),
        ("multipart/form-data; boundary=x", b"no boundary here", "does not contain its boundary"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nv',
         "not terminated"),
        ("multipart/form-data; boundary=x", b"--x\r\nX: y\r\n\r\nv\r\n--x--", "Content-Disposition"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--",
         "without a name"),
    ],
)  # fmt: skip
def test_broken_bodies_raise_parse_error(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_request(Request("POST", "/", [("Content-Type", content_type)], body), POLICY)


def test_unparsed_text_body_is_one_field_and_binary_is_skipped() -> None:
    xml = Request("POST", "/", [("Content-Type", "application/xml")], b"<a>1</a>")
    assert (PARAM, "", "<a>1</a>", "Body", False) in fields_of(xml)
    binary = Request("POST", "/", [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert not any(f[3] == "Body" for f in fields_of(binary))


@pytest.mark.parametrize(
    ("limits", "request_", "limit"),
    [
        ({"general": {"pathLength": 10}}, Request("GET", "/" + "a" * 20), "general.pathLength"),
        ({"general": {"bodySize": 10}}, Request("POST", "/", [], b"a=" + b"b" * 20), "general.bodySize"),
        ({"parameter": {"count": 3}}, Request("GET", "/?a=1&b=2&c=3&d=4"), "parameter.count"),
        ({"parameter": {"nameLength": 3}}, Request("GET", "/?abcd=1"), "parameter.nameLength"),
        ({"parameter": {"valueLength": 3}}, Request("GET", "/?a=1234"), "parameter.valueLength"),
        ({"parameter": {"bodySize": 5}},
         Request("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")], b"a=123456"),
         "parameter.bodySize"),
        ({"json": {"bodySize": 5}},
         Request("POST", "/", [("Content-Type", "application/json")], b'{"a": 123456}'),
         "json.bodySize"),
        ({"json": {"nestingDepth": 3}},
         Request("POST", "/", [("Content-Type", "application/json")], b"[[[[1]]]]"),
         "json.nestingDepth"),
        ({"json": {"keyCount": 2}},
         Request("POST", "/", [("Content-Type", "application/json")], b'{"a":1,"b":2,"c":3}'),
         "json.keyCount"),
        ({"json": {"elementCount": 3}},
         Request("POST", "/", [("Content-Type", "application/json")], b"[1,2,3,4]"),
         "json.elementCount"),
        ({"json": {"keyLength": 3}},
         Request("POST", "/", [("Content-Type", "application/json")], b'{"abcd":1}'),
         "json.keyLength"),
        ({"json": {"valueLength": 3}},
         Request("POST", "/", [("Content-Type", "application/json")], b'{"a":"abcd"}'),
         "json.valueLength"),
        ({"multipart": {"bodySize": 5}},
         Request("POST", "/", [("Content-Type", "multipart/form-data; boundary=x")], b"--x--\r\n"),
         "multipart.bodySize"),
    ],
)  # fmt: skip
def test_limits(limits: dict, request_: Request, limit: str) -> None:
    policy = default_policy()
    policy.limits = load_limits({"request": {"limited": limits}})
    with pytest.raises(LimitExceeded) as info:
        parse_request(request_, policy)
    assert info.value.limit == limit


def test_limit_exceptions_by_parameter_name_and_json_path() -> None:
    policy = default_policy()
    policy.limits = load_limits({"request": {"limited": {
        "parameter": {"valueLength": 3}, "json": {"valueLength": 3},
        "exceptions": [
            {"length": {"parameter": {"name": {"matcher": {"exact": "essay"}}}}},
            {"length": {"json": {"jsonPath": "$.posts[*].body"}}},
        ],
    }}})  # fmt: skip
    parse_request(Request("GET", "/?essay=a+long+text"), policy)
    with pytest.raises(LimitExceeded):
        parse_request(Request("GET", "/?other=a+long+text"), policy)
    body = b'{"posts": [{"body": "a long text"}]}'
    parse_request(Request("POST", "/", [("Content-Type", "application/json")], body), policy)
    with pytest.raises(LimitExceeded):
        parse_request(
            Request("POST", "/", [("Content-Type", "application/json")], b'{"title": "long"}'),
            policy,
        )


def test_count_limit_stops_early_on_huge_parameter_lists() -> None:
    request = Request("GET", "/?" + "&".join(f"p{i}=1" for i in range(100_000)))
    with pytest.raises(LimitExceeded, match="parameter.count"):
        parse_request(request, POLICY)


def test_deep_json_is_refused_before_parsing() -> None:
    body = b"[" * 50_000 + b"]" * 50_000
    request = Request("POST", "/", [("Content-Type", "application/json")], body)
    with pytest.raises(LimitExceeded, match="json.nestingDepth"):
        parse_request(request, POLICY)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("%2527", "'"),  # double encoding
        ("%252527", "'"),  # triple
        ("%u0027", "'"),
        ("%c0%ae%c0%ae/", "../"),  # overlong UTF-8 dots
        ("a%00b", "ab"),
        ("caf%C3%A9", "café"),
        ("100%", "100%"),  # invalid escape kept
        ("%zz", "%zz"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_decode_rounds_are_bounded() -> None:
    deep = "'"
    for _ in range(10):
        deep = deep.replace("%", "%25").replace("'", "%27")
    assert url_decode(deep) != "'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("&lt;script&gt;", "<script>"), ("&#x3c;svg&#62;", "<svg>"), ("&amp;lt;b&amp;gt;", "<b>"),
     ("\\x3cimg\\u003e", "<img>"), ("java\tscript:", "java\tscript:")],
)  # fmt: skip
def test_html_decode(text: str, expected: str) -> None:
    assert html_decode(text) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/a/./b/../c", "/a/c"), ("//a///b", "/a/b"), ("/a\\..\\b", "/b"), ("/../../etc", "/etc"),
     ("/a/%2e%2e/b", "/b"), ("/a/b/", "/a/b/"), ("", "/")],
)  # fmt: skip
def test_normalize_path(path: str, expected: str) -> None:
    assert normalize_path(path) == expected
