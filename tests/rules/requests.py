"""Shared helpers for the rule-key tests: request builders, engines, and rule-key checks.

The builders take the few things that differ between test files (path, parameter name, host,
encoding) as parameters with defaults, so each test file builds exactly the request it means.
Two kinds of engine are used: one holding only a key's rules (`key_engine`), to prove that key
alone stays quiet, and the full built-in engine (`full_engine`), to see what all rules say.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from urllib.parse import quote

from airlock_filters import Engine, Request, default_policy
from airlock_filters.rules import BUILTIN_RULES

HOST = "shop.example.com"
FORM = "application/x-www-form-urlencoded"

Header = tuple[str, str]
Place = Callable[[str], Request]  # where in a request a payload goes
Encode = Callable[[str], str]


def quote_all(value: str) -> str:
    """Percent-encode everything but letters, digits and `_.-~`, slashes included."""
    return quote(value, safe="")


def verbatim(value: str) -> str:
    """Leave a value as it is."""
    return value


# Requests


def get(target: str, *headers: Header, host: str = HOST) -> Request:
    """A GET of a raw, already percent-encoded target."""
    return Request("GET", target, [("Host", host), *headers])


def post(
    target: str, content_type: str, body: str, *, method: str = "POST", host: str = HOST
) -> Request:
    """A request with a body of the given content type."""
    return Request(method, target, [("Host", host), ("Content-Type", content_type)], body.encode())


def query(
    value: str, name: str = "q", *, path: str = "/search", encode: Encode = quote, host: str = HOST
) -> Request:
    """A GET with one query parameter."""
    return get(f"{path}?{quote(name)}={encode(value)}", host=host)


def form(
    value: str,
    name: str = "comment",
    *,
    path: str = "/comments",
    encode: Encode = quote,
    rest: str = "",
    host: str = HOST,
) -> Request:
    """A url-encoded form post of one field, followed by `rest` (such as `&submit=1`)."""
    return post(path, FORM, f"{quote(name)}={encode(value)}{rest}", host=host)


def json_body(
    document: object, *, path: str = "/api/items", method: str = "POST", host: str = HOST
) -> Request:
    """A JSON document in the body."""
    return post(path, "application/json", json.dumps(document), method=method, host=host)


def xml_body(
    document: str, *, path: str = "/soap", content_type: str = "application/xml", host: str = HOST
) -> Request:
    """An XML document in the body, as given."""
    return post(path, content_type, document, host=host)


def xml_document(root: str, element: str, text: str) -> str:
    """An XML document with one element holding `text` (not escaped)."""
    return f'<?xml version="1.0"?><{root}><{element}>{text}</{element}></{root}>'


def xml_text(value: str, *, quotes: bool = False) -> str:
    """Escape `&` and `<` (and with `quotes`, `"`) for XML text."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;")
    return escaped.replace('"', "&quot;") if quotes else escaped


def header(name: str, value: str, *, path: str = "/", host: str = HOST) -> Request:
    """A GET with one extra header."""
    return get(path, (name, value), host=host)


def cookie(
    value: str, prefix: str = "theme=dark; last=", *, encode: Encode = quote_all, host: str = HOST
) -> Request:
    """A GET whose Cookie header is `prefix` followed by the encoded value."""
    return header("Cookie", prefix + encode(value), host=host)


def upload(filename: str, *, host: str = HOST) -> Request:
    """A multipart upload of a small file under the given file name."""
    body = (
        '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + '"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--XyZ--\r\n'
    )
    return post("/upload", "multipart/form-data; boundary=XyZ", body, host=host)


# Engines and the rule keys they report


@functools.cache
def key_engine(key: str, level: str, implementation: str) -> Engine:
    """An engine with the default policy at `level` that holds only the rules of `key`."""
    rules = [rule for rule in BUILTIN_RULES if rule.key == key]
    return Engine(default_policy(level), rules=rules, checks=(), implementation=implementation)


@functools.cache
def full_engine(level: str, implementation: str | None = None) -> Engine:
    """An engine with the default policy at `level` and all built-in rules and checks."""
    return Engine(default_policy(level), implementation=implementation)


def blocked_keys(key: str, level: str, implementation: str, request: Request) -> set[str]:
    """The rule keys that block `request` on `key_engine`; empty when it passes."""
    decision = key_engine(key, level, implementation).inspect(request)
    return {m.rule_key for m in decision.matches} if decision.action == "block" else set()


def matched_keys(request: Request, level: str = "Standard") -> set[str]:
    """The rule keys that match `request` on `full_engine`, whether it blocks or not."""
    return {m.rule_key for m in full_engine(level).inspect(request).matches}


def assert_blocked(request: Request, key: str, level: str = "Standard") -> None:
    """`full_engine` blocks `request`, and a rule of `key` is among the matches."""
    decision = full_engine(level).inspect(request)
    assert decision.action == "block"
    assert key in {m.rule_key for m in decision.matches}


def rule_ids(request: Request, key: str, implementation: str | None = None) -> set[str]:
    """The ids of the rules of `key` that match `request` on `full_engine` at Standard."""
    matches = full_engine("Standard", implementation).inspect(request).matches
    return {m.rule_id for m in matches if m.rule_key == key}
