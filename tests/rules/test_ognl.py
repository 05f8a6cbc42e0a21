"""OGNL rules: Java expression languages (Struts OGNL, Spring SpEL, Java EL, MVEL), Spring4Shell
and Java class references."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from airlock_filters import Request

from .requests import assert_blocked, form, header, json_body, matched_keys, query, xml_body

KEY = "OGNL"

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
    header("Content-Type", STRUTS_045, path="/index.action"),
    Request("GET", "/" + quote("${(#a=@java.lang.Runtime@getRuntime())}") + "/actionChain1.action"),
    query("%{#a=new java.lang.ProcessBuilder({'id'}).start()}"),
    query("@org.apache.commons.io.IOUtils@toString(#p.getInputStream())"),
    # Spring SpEL and Java EL.
    query("T(java.lang.Runtime).getRuntime().exec('id')"),
    query("#{T(org.springframework.util.StreamUtils).copy(1,2)}"),
    header(
        "spring.cloud.function.routing-expression",
        "T(java.lang.Runtime).getRuntime()",
        path="/index.action",
    ),
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
        "<list><java.io.FileOutputStream><file>/tmp/x</file></java.io.FileOutputStream></list>",
        path="/api/import",
    ),
    query("javax.script.ScriptEngineManager"),
    query("Class.forName('java.lang.Runtime')"),
    query("com.opensymphony.xwork2.ActionContext"),
    query("java.evil.runtime"),
    header("X-Data", "java.lang.reflect.Method", path="/index.action"),
    query(
        "com.bea.core.repackaged.springframework.context.support.FileSystemXmlApplicationContext"
    ),
    xml_body("<a>&#64;java.lang.Runtime&#64;getRuntime()</a>", path="/api/import"),
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
    header("User-Agent", "Apache-HttpClient/4.5.13 (Java/11.0.15)", path="/index.action"),
    header("Accept", "application/json, text/plain, */*", path="/index.action"),
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
        query("%{(#_memberAccess=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}"),
        header("Content-Type", STRUTS_045, path="/index.action"),
        query("T(java.lang.Runtime).getRuntime().exec('id')"),
        query("x", name="class.module.classLoader.URLs[0]"),
        query("Runtime.getRuntime().exec('id')"),
    ],
)
def test_high_confidence_attacks_blocked_at_basic(request_: Request) -> None:
    assert_blocked(request_, KEY, "Basic")


@pytest.mark.parametrize(
    "request_", [query("java.lang.String"), query("T(example.Util)"), query("Class.forName(x)")]
)
def test_standard_rules_inactive_at_basic(request_: Request) -> None:
    assert KEY not in matched_keys(request_, "Basic")
    assert_blocked(request_, KEY, "Standard")
    assert_blocked(request_, KEY, "Strict")
