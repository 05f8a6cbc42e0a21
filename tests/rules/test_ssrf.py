"""SSRF rules: server-side request forgery and remote file inclusion."""

from __future__ import annotations

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import assert_blocked, form, get, header, json_body, matched_keys

KEY = "SSRF"


def query(value: str, name: str = "url") -> Request:
    return build.query(value, name, path="/fetch")


ATTACKS = [
    # Cloud metadata.
    query("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    query("http://[fd00:ec2::254]/latest/meta-data/"),
    query("http://metadata.google.internal/computeMetadata/v1/instance/"),
    query("http://100.100.100.200/latest/meta-data/"),
    json_body({"webhook": "http://169.254.170.2/v2/credentials"}, path="/api/hooks"),
    # Loopback, private and internal hosts.
    query("http://127.0.0.1:8080/admin"),
    query("http://localhost:6379/"),
    query("https://LOCALHOST/server-status"),
    query("http://0.0.0.0:9200/_cat/indices"),
    query("http://[::1]/"),
    query("http://[::ffff:127.0.0.1]/"),
    query("http://10.0.0.12/"),
    query("http://kubernetes.default.svc/api/v1/secrets"),
    query("http://vault.vault.svc.cluster.local:8200/v1/secret"),
    query("http://localtest.me/"),
    query("http://10.0.0.1.nip.io/"),
    query("localhost:8080/actuator/env"),
    form("http://evil.example@127.0.0.1/", "url", path="/fetch"),
    # Addresses in disguise.
    query("http://2130706433/"),
    query("http://0x7f000001/"),
    query("http://0x7f.0x0.0x0.0x1/"),
    query("http://0177.0.0.1/"),
    query("http://127.1/"),
    query("http://0/"),
    query("http:2130706433"),
    query("http://127\u30020\u30020\u30021/"),
    query("http://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460/"),
    query("http://trusted.example\\@evil.example/"),
    # Schemes that reach other services or files.
    query("gopher://127.0.0.1:6379/_FLUSHALL"),
    query("dict://localhost:11211/stats"),
    query("file:///etc/passwd"),
    query("ldap://attacker.example/o=x"),
    query("jar:http://attacker.example/evil.jar!/"),
    query("netdoc:///etc/passwd"),
    query("tftp://attacker.example/x"),
    # Remote file inclusion.
    query("http://attacker.example/shell.txt?", name="page"),
    query("https?", name="x"),
    query("http://203.0.113.7/c99.php", name="src"),
    query("https://attacker.example/shell.txt", name="include_path"),
    query("https://attacker.example/shell.txt", name="_CONF[path]"),
    query("ftp://attacker.example/x.txt", name="lang"),
    query("https://shop.example.com.attacker.example/", name="next"),
    query("https://evilshop.example.com/", name="next"),
    query("https://shop.example.com:2375/containers/json", name="endpoint"),
    get("/proxy/http://internal.example/admin"),
    # Cookies and custom headers.
    header("Cookie", "avatar=http://127.0.0.1:2375/info"),
    header("X-Callback", "http://localhost:8500/v1/agent/self"),
]

BENIGN = [
    query("https://example.com/page", name="redirect"),
    query("https://cdn.example.net/img/hero.png", name="image"),
    query("/account/orders", name="next"),
    query("https://www.example.org/blog/2024/spring-sale?utm_source=mail", name="url"),
    query("http://www.example.com/some/path", name="url"),
    query("https://shop.example.com/cart", name="return_to"),
    query("https://auth.shop.example.com/cb", name="callback"),
    query("localhost", name="server"),
    query("mylocalhost", name="server"),
    query("my IP is 192.168.1.10, please whitelist"),
    query("version 1.2.3.4 released"),
    query("HTTP/1.1 is fine"),
    query("call me at 0044 20 7946 0958"),
    query("user@example.com"),
    query("is it http or https?", name="q"),
    query("The file: a report", name="q"),
    form(
        '<p>See <a href="https://www.example.org/x">this</a> and ping @bob</p>',
        "body",
        path="/fetch",
    ),
    form('<img src=https://images.example.com/a.jpg alt="">', "body", path="/fetch"),
    json_body(
        {"avatar_url": "https://cdn.example.com/u/42.png", "id": "gid://shop/Cart/1"},
        path="/api/hooks",
    ),
    header("Referer", "http://192.168.1.20:8080/intranet/home"),
    header("Referer", "http://localhost:3000/dev"),
    header("X-Forwarded-For", "10.0.0.1, 192.168.1.5"),
    header(
        "User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    ),
]


@pytest.mark.parametrize("request_", ATTACKS)
def test_attacks_blocked_at_standard(request_: Request) -> None:
    assert_blocked(request_, KEY)


@pytest.mark.parametrize("request_", BENIGN)
def test_benign_passes_at_standard(request_: Request) -> None:
    assert KEY not in matched_keys(request_)


@pytest.mark.parametrize(
    "request_",
    [
        query("http://169.254.169.254/latest/user-data"),
        query("gopher://127.0.0.1:25/_HELO"),
        header("Referer", "http://169.254.169.254/"),
    ],
)
def test_high_confidence_attacks_blocked_at_basic(request_: Request) -> None:
    assert_blocked(request_, KEY, "Basic")


@pytest.mark.parametrize(
    "request_",
    [
        # An off-site URL in a parameter whose name does not announce a URL.
        query("https://attacker.example/", name="x"),
        json_body({"data": "http://attacker.example/payload"}, path="/api/hooks"),
    ],
)
def test_strict_only(request_: Request) -> None:
    assert KEY not in matched_keys(request_, "Standard")
    assert_blocked(request_, KEY, "Strict")


def test_standard_rule_inactive_at_basic() -> None:
    request = query("http://127.0.0.1/")
    assert KEY not in matched_keys(request, "Basic")
    assert_blocked(request, KEY, "Standard")
