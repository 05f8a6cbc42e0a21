"""Protocol-level rule keys: PROTOCOL, ENCODING, SANITY, HPP, BOT, SCANNING, IDOR."""

from __future__ import annotations

import json

import pytest

from airlock_filters import Engine, Request, default_policy

HOST = ("Host", "shop.example.com")
UA = ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")


@pytest.fixture(scope="module")
def engines(implementation: str) -> dict[str, Engine]:
    return {lvl: Engine(default_policy(lvl), implementation=implementation)
            for lvl in ("Basic", "Standard", "Strict")}  # fmt: skip


def get(target: str, *headers: tuple[str, str], method: str = "GET") -> Request:
    default_ua = [] if any(name == "User-Agent" for name, _ in headers) else [UA]
    return Request(method, target, [HOST, *default_ua, *headers])


def post(body: bytes, content_type: str | None, *headers: tuple[str, str]) -> Request:
    extra = [("Content-Type", content_type)] if content_type else []
    return Request("POST", "/submit", [HOST, UA, *extra, *headers], body)


def fired(engines: dict[str, Engine], request: Request, level: str = "Standard") -> set[str]:
    decision = engines[level].inspect(request)
    return {m.rule_id for m in decision.matches if decision.action == "block"}


ATTACKS = [
    # (request, rule id that must fire, lowest level it fires at)
    (get("/?a=%c0%af"), "ENCODING-B01", "Basic"),
    (get("/?file=report.pdf%00.jpg"), "ENCODING-B02", "Basic"),
    (get("/files/%252e%252e/etc"), "ENCODING-S01", "Standard"),
    (get("/?q=%2527"), "ENCODING-X03", "Strict"),
    (get("/?q=%u0027"), "ENCODING-S02", "Standard"),
    (get("/?q=50%zz"), "ENCODING-S03", "Standard"),
    (get("/?q=a%01b"), "ENCODING-S04", "Standard"),
    (get("/?q=caf%E9"), "ENCODING-X01", "Strict"),
    (get("/?lang=en%0d%0aSet-Cookie:%20sid=1"), "PROTOCOL-B01", "Basic"),
    (get("/?x=1%0aGET%20/admin%20HTTP/1.1"), "PROTOCOL-S01", "Standard"),
    (get("/", ("Content-Length", "5"), ("Transfer-Encoding", "chunked")), "PROTOCOL-B02", "Basic"),
    (get("/", ("Proxy", "http://evil:8080")), "PROTOCOL-B03", "Basic"),
    (get("/", method="FOOBAR"), "PROTOCOL-S10", "Standard"),
    (Request("GET", "/", [UA]), "PROTOCOL-S11", "Standard"),
    (get("/doc.pdf", ("Range", "bytes=0-1,2-3,4-5,6-7,8-9,10-11")), "PROTOCOL-S12", "Standard"),
    (post(b"a=1", "application/x-www-form-urlencoded; charset=utf-7"), "PROTOCOL-S13", "Standard"),
    (post(b"a=1", None), "PROTOCOL-X10", "Strict"),
    (get("/", ("Bad Header", "x")), "SANITY-B01", "Basic"),
    (get("/a\\b"), "SANITY-S01", "Standard"),
    (get("/?q=" + "A" * 200), "SANITY-X01", "Strict"),
    (Request("POST", "/submit?id=1", [HOST, UA, ("Content-Type", "application/x-www-form-urlencoded")],
             b"id=2"), "HPP-S01", "Standard"),
    (get("/?id=1/*&id=*/union"), "HPP-X01", "Strict"),
    (get("/", ("User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)")), "BOT-B01", "Basic"),
    (get("/", ("User-Agent", "Mozilla/5.00 (Nikto/2.1.6)")), "BOT-B01", "Basic"),
    (get("/", ("User-Agent", "curl/8.5.0")), "BOT-X01", "Strict"),
    (get("/.git/config"), "SCANNING-B01", "Basic"),
    (get("/.env"), "SCANNING-B01", "Basic"),
    (get("/index.php.bak"), "SCANNING-S01", "Standard"),
    (get("/backup.sql.gz"), "SCANNING-S01", "Standard"),
    (get("/phpinfo.php"), "SCANNING-S02", "Standard"),
    (get("/phpmyadmin/index.php"), "SCANNING-X01", "Strict"),
    (get("/api/orders?user_id=*"), "IDOR-S01", "Standard"),
    (Request("POST", "/api/orders", [HOST, UA, ("Content-Type", "application/json")],
             json.dumps({"accountId": "%"}).encode()), "IDOR-S02", "Standard"),
    (get("/api/orders?user_id=1-99999"), "IDOR-X01", "Strict"),
]  # fmt: skip

LEVELS = ("Basic", "Standard", "Strict")


@pytest.mark.parametrize(("request_", "rule_id", "level"), ATTACKS)
def test_attack_fires_from_its_level(
    engines: dict[str, Engine], request_: Request, rule_id: str, level: str
) -> None:
    for lower in LEVELS[: LEVELS.index(level)]:
        assert rule_id not in fired(engines, request_, lower)
    for higher in LEVELS[LEVELS.index(level) :]:
        assert rule_id in fired(engines, request_, higher), higher


BENIGN = [
    get("/search?q=100%25+cotton&page=2"),
    get("/products?color=red&color=blue&brand=levi%27s&brand=muji"),
    get("/c/kids?sort=price_asc", ("Cookie", "sid=abc; theme=dark%20blue; cart=%7B%22n%22%3A2%7D")),
    get("/doc.pdf", ("Range", "bytes=0-1023")),
    get("/", ("User-Agent", "okhttp/4.12.0")),
    get("/.well-known/security.txt"),
    get("/api/orders?user_id=12345&order_id=A-77"),
    post(b"name=Zo%C3%AB&note=Line+1%0D%0ALine+2", "application/x-www-form-urlencoded; charset=UTF-8"),
    post(json.dumps({"text": "Subject: hello\nRegards: Ann"}).encode(), "application/json"),
    post(b"--b\r\nContent-Disposition: form-data; name=\"m\"\r\n\r\n100% latex\r\n--b--\r\n",
         "multipart/form-data; boundary=b"),
]  # fmt: skip


@pytest.mark.parametrize("request_", BENIGN)
def test_benign_passes_at_strict(engines: dict[str, Engine], request_: Request) -> None:
    decision = engines["Strict"].inspect(request_)
    assert decision.action == "allow", [m.rule_id for m in decision.matches]


def test_literal_percent_escapes_in_a_password_pass_at_standard(engines: dict[str, Engine]) -> None:
    # A browser sends a typed `%41` as `%2541`: double encoding, but a user's own input.
    request = post(b"user=ann&password=x%2541%25zz", "application/x-www-form-urlencoded")
    assert engines["Standard"].inspect(request).action == "allow"
    assert fired(engines, request, "Strict") == {"ENCODING-X03"}
