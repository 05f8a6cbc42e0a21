"""Rule key LDAP: filter injection must block at Standard, parentheses and asterisks in ordinary
text must pass.

The engine here holds only the LDAP rules (with the default policy), and every test runs on
both scanner twins.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import Place, blocked_keys, quote_all

KEY = "LDAP"
HOST = "intranet"


def query(value: str) -> Request:
    return build.query(value, "user", path="/directory", encode=quote_all, host=HOST)


def form(value: str) -> Request:
    return build.form(
        value, "username", path="/login", encode=quote_plus, rest="&password=x", host=HOST
    )


def json_body(value: str) -> Request:
    return build.json_body({"login": value, "domain": "corp"}, path="/api/auth", host=HOST)


def cookie(value: str) -> Request:
    return build.cookie(value, "who=", encode=quote, host=HOST)


def xml_body(value: str) -> Request:
    uid = build.xml_document("lookup", "uid", build.xml_text(value))
    return build.xml_body(uid, content_type="text/xml", host=HOST)


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
    assert KEY in blocked_keys(KEY, "Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize("payload", ["*)(uid=*", "x*)(|(cn=*", "*)(&(objectClass=*"])
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Basic", implementation, query(payload))


def test_closing_a_filter_needs_standard(implementation: str) -> None:
    request = query("admin)(cn=x")
    assert blocked_keys(KEY, "Basic", implementation, request) == set()
    assert KEY in blocked_keys(KEY, "Standard", implementation, request)


def test_complete_filter_is_strict_only(implementation: str) -> None:
    request = query("(&(objectClass=person))")
    assert blocked_keys(KEY, "Standard", implementation, request) == set()
    assert KEY in blocked_keys(KEY, "Strict", implementation, request)
