"""Rule key NOSQL: operator and server-side JavaScript injection into document databases must
block at Standard; ordinary JSON APIs, OData and JSON Schema documents must pass.

The engine here holds only the NOSQL rules (with the default policy), and every test runs on
both scanner twins.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import FORM, Header, blocked_keys

KEY = "NOSQL"
HOST = "api"


def get(target: str, *headers: Header) -> Request:
    return build.get(target, *headers, host=HOST)


def form(body: str) -> Request:
    return build.post("/login", FORM, body, host=HOST)


def json_body(document: object) -> Request:
    return build.json_body(document, path="/api/login", host=HOST)


ATTACKS: list[Request] = [
    # operators smuggled in through bracketed parameter names
    get("/login?user[$ne]=nobody&pass[$ne]=x"),
    get("/login?user%5B%24ne%5D=nobody"),
    get("/users?age[$gt]=0"),
    form("email[$regex]=^adm&password[$exists]=true"),
    get("/api/items", ("Cookie", "filter%5B%24nin%5D=1")),
    # operator objects in JSON bodies and in JSON-looking values
    json_body({"username": "admin", "password": {"$gt": ""}}),
    json_body({"username": {"$in": ["admin", "root"]}, "password": {"$ne": None}}),
    json_body({"$where": "this.role == 'admin'"}),
    json_body({"$or": [{"a": 1}, {"b": 2}]}),
    get("/search?q=" + quote('{"$ne": null}')),
    # server-side JavaScript in $where and mapReduce
    get("/user?name=" + quote("' || this.isAdmin || '")),
    get("/user?name=" + quote("a'; return true; var b='")),
    get("/user?name=" + quote("x' && this.password.match(/^a/)//")),
    get("/user?name=" + quote("1 || '2'=='2")),
    get("/user?name=" + quote("db.getCollection('users').drop()")),
    # ORM filters that walk relations to pattern-match another model's field
    get("/articles?author__user__password__startswith=pbkdf2"),
    json_body({"owner__profile__api_key__regex": "^a"}),
]

BENIGN: list[Request] = [
    get("/products?category[]=shoes&category[]=bags&sort=-price"),
    get("/odata/Products?$filter=Price%20gt%2020&$select=Name,Price&$top=10&$orderby=Name"),
    get("/api/items?price__gte=10&created__lte=2024-01-01"),
    json_body(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "x",
            "properties": {"a": {"$ref": "#/$defs/a"}},
        }
    ),
    json_body({"$type": "Shop.Order, Shop", "total": 12.5}),
    json_body({"title": "Buy milk", "notes": "price $10 or less; deadline tomorrow"}),
    json_body({"code": "if (a && b) { return true; }"}),
    get("/search?q=" + quote("this.value is not defined")),
    get("/search?q=" + quote("$ne and $gt in MongoDB tutorial")),
    form("username=jane.doe%40example.com&password=S3cret%24ne%21"),
]


@pytest.mark.parametrize("request_", ATTACKS)
def test_attack_blocks_at_standard(implementation: str, request_: Request) -> None:
    assert KEY in blocked_keys(KEY, "Standard", implementation, request_)


@pytest.mark.parametrize("request_", BENIGN)
def test_benign_passes_at_standard(implementation: str, request_: Request) -> None:
    assert blocked_keys(KEY, "Standard", implementation, request_) == set()


@pytest.mark.parametrize(
    "request_",
    [get("/login?user[$ne]=x"), get("/q?f=" + quote('{"$gt": ""}')), json_body({"$where": "1"})],
)
def test_basic_catches_the_unmistakable(implementation: str, request_: Request) -> None:
    assert KEY in blocked_keys(KEY, "Basic", implementation, request_)


def test_plain_operators_need_standard(implementation: str) -> None:
    request = get("/users?age[$gte]=18")
    assert blocked_keys(KEY, "Basic", implementation, request) == set()
    assert KEY in blocked_keys(KEY, "Standard", implementation, request)


@pytest.mark.parametrize(
    "request_",
    [
        get("/users?username__startswith=adm"),
        json_body({"password__isnull": True}),
        get("/search?q=" + quote("find docs where $regex matches")),
    ],
)
def test_strict_only(implementation: str, request_: Request) -> None:
    assert blocked_keys(KEY, "Standard", implementation, request_) == set()
    assert KEY in blocked_keys(KEY, "Strict", implementation, request_)
