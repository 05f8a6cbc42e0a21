"""Rule key LDAP: filter injection must block at Standard, parentheses and asterisks in ordinary
text must pass.

The engine here holds only the LDAP rules (with the default policy), and every test runs on
both scanner twins.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Engine, Request, default_policy
from airlock_filters.rules import BUILTIN_RULES

KEY = "LDAP"


@functools.cache
def engine(level: str, implementation: str) -> Engine:
    rules = [rule for rule in BUILTIN_RULES if rule.key == KEY]
    return Engine(default_policy(level), rules=rules, checks=(), implementation=implementation)


def query(value: str) -> Request:
    return Request("GET", "/directory?user=" + quote(value, safe=""), [("Host", "intranet")])


def form(value: str) -> Request:
    body = "username=" + quote_plus(value) + "&password=x"
    return Request(
        "POST",
        "/login",
        [("Host", "intranet"), ("Content-Type", "application/x-www-form-urlencoded")],
        body.encode(),
    )


def json_body(value: str) -> Request:
    body = json.dumps({"login": value, "domain": "corp"})
    return Request(
        "POST",
        "/api/auth",
        [("Host", "intranet"), ("Content-Type", "application/json")],
        body.encode(),
    )


def cookie(value: str) -> Request:
    return Request("GET", "/", [("Host", "intranet"), ("Cookie", "who=" + quote(value))])


def xml_body(value: str) -> Request:
    escaped = value.replace("&", "&amp;").replace("<", "&lt;")
    body = f'<?xml version="1.0"?><lookup><uid>{escaped}</uid></lookup>'
    return Request(
        "POST", "/soap", [("Host", "intranet"), ("Content-Type", "text/xml")], body.encode()
    )


def keys(level: str, implementation: str, request: Request) -> set[str]:
    decision = engine(level, implementation).inspect(request)
    return {m.rule_key for m in decision.matches} if decision.action == "block" else set()


Place = Callable[[str], Request]

ATTACKS: list[tuple[Place, str]] = [
    (form, "*)(uid=*))(|(uid=*"),
    (form, "admin)(&)"),
    (form, "admin)(|(password=*)"),
    (query, "*)(objectClass=*"),
    (query, "jdoe)(mail=*@corp.example"),
    (query, "x)(!(cn=guest)"),
    (json_body, "svc*)(memberOf=cn=Domain Admins,cn=Users,dc=corp,dc=example"),
    (json_body, "a)(userAccountControl:1.2.840.113556.1.4.803:=2"),
    (query, "alice)(sn~=smith"),
    (query, "bob)(uidNumber>=0"),
    (cookie, "guest)(|(cn=*"),
    (xml_body, "admin)(&)"),
    (query, "admin))(|(uid=*"),
    (query, "(|(uid=*))"),
]

BENIGN: list[tuple[Place, str]] = [
    (query, "John Smith (Sales)"),
    (query, "(see above) (and below)"),
    (form, "p@ss(w)or*d"),
    (json_body, "5 * (3 + 2) = 25"),
    (json_body, "Tom (&) Jerry"),
    (query, "smile :) (really)"),
    (query, "R&D (research) & AT&T"),
    (query, "*important* (read first)"),
    (json_body, "f(x) = (x + 1)*(x - 1)"),
    (query, "Size (EU) / Size (US)"),
]


@pytest.mark.parametrize(("place", "payload"), ATTACKS)
def test_attack_blocks_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert KEY in keys("Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert keys("Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize("payload", ["*)(uid=*", "x*)(|(cn=*", "*)(&(objectClass=*"])
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in keys("Basic", implementation, query(payload))


def test_closing_a_filter_needs_standard(implementation: str) -> None:
    request = query("admin)(cn=x")
    assert keys("Basic", implementation, request) == set()
    assert KEY in keys("Standard", implementation, request)


def test_complete_filter_is_strict_only(implementation: str) -> None:
    request = query("(&(objectClass=person))")
    assert keys("Standard", implementation, request) == set()
    assert KEY in keys("Strict", implementation, request)
