"""OGNL rules: Java expression languages (Struts OGNL, Spring SpEL, Java EL, MVEL), Spring4Shell
and Java class references."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from airlock_filters import Engine, Request, default_policy

KEY = "OGNL"
HOST = ("Host", "shop.example.com")
ENGINES = {level: Engine(default_policy(level)) for level in ("Basic", "Standard", "Strict")}


def query(value: str, name: str = "q") -> Request:
    return Request("GET", f"/search?{quote(name)}={quote(value)}", headers=[HOST])


def form(value: str, name: str = "comment") -> Request:
    body = f"{quote(name)}={quote(value)}".encode()
    headers = [HOST, ("Content-Type", "application/x-www-form-urlencoded")]
    return Request("POST", "/comments", headers=headers, body=body)


def json_body(document: object) -> Request:
    headers = [HOST, ("Content-Type", "application/json")]
    return Request("POST", "/api/items", headers=headers, body=json.dumps(document).encode())


def xml_body(text: str) -> Request:
    headers = [HOST, ("Content-Type", "application/xml")]
    return Request("POST", "/api/import", headers=headers, body=text.encode())


def header(name: str, value: str) -> Request:
    return Request("GET", "/index.action", headers=[HOST, (name, value)])


def keys(request: Request, level: str = "Standard") -> set[str]:
    return {m.rule_key for m in ENGINES[level].inspect(request).matches}


def assert_blocked(request: Request, level: str = "Standard") -> None:
    decision = ENGINES[level].inspect(request)
    assert decision.action == "block"
    assert KEY in {m.rule_key for m in decision.matches}


STRUTS_045 = (
    "%{(#nike='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)"
    ".(#_memberAccess?(#_memberAccess=#dm):((#container=#context['com.opensymphony.xwork2."
    "ActionContext.container'])))}"
)

ATTACKS = [
    # Struts OGNL, in parameters, the Content-Type header and the path.
    query("%{(#_memberAccess['allowStaticMethodAccess']=true)(@java.lang.Runtime@getRuntime())}"),
    query("(#context['xwork.MethodAccessor.denyMethodExecution']=false)(#a=1)"),
    query("${#_memberAccess.allowStaticMethodAccess=true}"),
    header("Content-Type", STRUTS_045),
    Request("GET", "/" + quote("${(#a=@java.lang.Runtime@getRuntime())}") + "/actionChain1.action"),
    query("%{#a=new java.lang.ProcessBuilder({'id'}).start()}"),
    query("@org.apache.commons.io.IOUtils@toString(#p.getInputStream())"),
    # Spring SpEL and Java EL.
    query("T(java.lang.Runtime).getRuntime().exec('id')"),
    query("#{T(org.springframework.util.StreamUtils).copy(1,2)}"),
    header("spring.cloud.function.routing-expression", "T(java.lang.Runtime).getRuntime()"),
    form("${''.getClass().forName('java.lang.Runtime').getMethod('getRuntime').invoke(null)}"),
    query("${pageContext.request.getSession().setAttribute('a','b')}"),
    query("${applicationScope.values()}"),
    # Spring4Shell and the class loader through bean properties.
    form("%{c2}i", name="class.module.classLoader.resources.context.parent.pipeline.first.pattern"),
    query("x", name="class['classLoader'].resources.dirContext.docBase"),
    query("webapps/ROOT", name="class.module.classLoader.resources.context.parent.appBase"),
    # Java classes and reflection.
    query("java.lang.Runtime"),
    json_body({"cls": "java.lang.ProcessBuilder"}),
    xml_body(
        "<list><java.io.FileOutputStream><file>/tmp/x</file></java.io.FileOutputStream></list>"
    ),
    query("javax.script.ScriptEngineManager"),
    query("Class.forName('java.lang.Runtime')"),
    query("com.opensymphony.xwork2.ActionContext"),
    query("java.evil.runtime"),
    header("X-Data", "java.lang.reflect.Method"),
    query(
        "com.bea.core.repackaged.springframework.context.support.FileSystemXmlApplicationContext"
    ),
    xml_body("<a>&#64;java.lang.Runtime&#64;getRuntime()</a>"),
]

BENIGN = [
    query("java tutorial for beginners"),
    query("I love Java. Runtime errors are rare"),
    query("Java Runtime Environment 17 download"),
    query("T(n) = O(n log n)"),
    query("email me at alice@example.com @bob"),
    query("the class. Module 3 starts on Monday"),
    query("classloader tutorial"),
    query("100% cotton, size L"),
    query("#hashtag #summer"),
    query("our (#1 = best seller) pick"),
    query("Total: ${amount}"),
    query("#{name} welcome"),
    query("string builder for kids"),
    form('<p>The <b>process builder</b> in our <a href="https://docs.example.org">docs</a></p>'),
    json_body({"runtime": 120, "class": "economy", "language": "java"}),
    header("User-Agent", "Apache-HttpClient/4.5.13 (Java/11.0.15)"),
    header("Accept", "application/json, text/plain, */*"),
]


@pytest.mark.parametrize("request_", ATTACKS)
def test_attacks_blocked_at_standard(request_: Request) -> None:
    assert_blocked(request_)


@pytest.mark.parametrize("request_", BENIGN)
def test_benign_passes_at_standard(request_: Request) -> None:
    assert KEY not in keys(request_)


@pytest.mark.parametrize(
    "request_",
    [
        query("%{(#_memberAccess=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}"),
        header("Content-Type", STRUTS_045),
        query("T(java.lang.Runtime).getRuntime().exec('id')"),
        query("x", name="class.module.classLoader.URLs[0]"),
        query("Runtime.getRuntime().exec('id')"),
    ],
)
def test_high_confidence_attacks_blocked_at_basic(request_: Request) -> None:
    assert_blocked(request_, "Basic")


@pytest.mark.parametrize(
    "request_", [query("java.lang.String"), query("T(example.Util)"), query("Class.forName(x)")]
)
def test_standard_rules_inactive_at_basic(request_: Request) -> None:
    assert KEY not in keys(request_, "Basic")
    assert_blocked(request_, "Standard")
    assert_blocked(request_, "Strict")
