"""Rule key TEMPLATE: template injection must block at Standard, placeholders and braces pass.

The engine here holds only the TEMPLATE rules (with the default policy), so a benign case
proves that TEMPLATE stays quiet regardless of what other keys think of it, and every test runs
on both scanner twins.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import Place, blocked_keys, quote_all

KEY = "TEMPLATE"
HOST = "shop"


def query(value: str) -> Request:
    return build.query(value, "name", path="/greet", encode=quote_all, host=HOST)


def form(value: str) -> Request:
    return build.form(
        value, "subject", path="/newsletter", encode=quote_plus, rest="&send=1", host=HOST
    )


def json_body(value: str) -> Request:
    profile = {"profile": {"display_name": value, "age": 30}}
    return build.json_body(profile, path="/api/me", method="PUT", host=HOST)


def cookie(value: str) -> Request:
    return build.cookie(value, "greeting=", encode=quote, host=HOST)


def header(value: str) -> Request:
    return build.header("X-Tenant-Name", value, host=HOST)


def xml_body(value: str) -> Request:
    return build.xml_body(value, path="/import", content_type="text/xml", host=HOST)


ATTACKS: list[tuple[Place, str]] = [
    # arithmetic probes in the delimiters of many engines
    (query, "{{6*9}}"),
    (form, "${ 12 * 12 }"),
    (json_body, "#{3*3}"),
    (cookie, "<%= 8 * 8 %>"),
    (header, "{{8*'8'}}"),
    (query, "*{5*5}"),
    (query, "@(9*9)"),
    (query, "[[${4*4}]]"),
    (xml_body, '<a v="&#123;&#123;6*6&#125;&#125;"/>'),
    # Jinja2 / Python sandbox escapes
    (query, "{{ ''.__class__.__base__.__subclasses__() }}"),
    (form, "{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    (json_body, "{{ request|attr('__class__') }}"),
    (query, "{{ request|attr('\\x5f\\x5fclass\\x5f\\x5f') }}"),
    (query, "{{ config.items() }}"),
    (query, "{{ lipsum.__globals__['os'].popen('id').read() }}"),
    (form, "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}"),
    (query, "{% import os %}{{ os.system('id') }}"),
    (query, "{% if 1 %}yes{% endif %}"),
    (query, "${__import__('os').popen('id').read()}"),
    # Twig, Smarty, FreeMarker, Velocity, Thymeleaf / Spring EL, Razor
    (query, "{{_self.env.registerUndefinedFilterCallback('system')}}"),
    (form, "{{['id']|map('system')|join}}"),
    (query, "{php}echo shell_exec('id');{/php}"),
    (query, "{system('cat /etc/passwd')}"),
    (json_body, "{$smarty.version}"),
    (query, '<#assign cmd="freemarker.template.utility.Execute"?new()>${cmd("id")}'),
    (form, '${"freemarker.template.utility.ObjectConstructor"?new()("java.lang.Runtime")}'),
    (query, "#set($r=$x.class.forName('java.lang.Runtime'))"),
    (query, "__${T(java.lang.Runtime).getRuntime().exec('id')}__::.x"),
    (header, "${T(java.lang.System).getenv()}"),
    (query, '@System.Diagnostics.Process.Start("cmd.exe")'),
    # scriptlets and expression calls
    (query, "<%= system('id') %>"),
    (form, "<% if true %>x<% end %>"),
    (query, "<%= `id` %>"),
    (query, "#{global.process.mainModule.require('child_process').execSync('id')}"),
    (json_body, "${self.module.cache.util.os.system('id')}"),
    # client-side template injection (AngularJS, Handlebars)
    (query, "{{constructor.constructor('alert(1)')()}}"),
    (form, "{{$on.constructor('alert(1)')()}}"),
    (query, '{{#with "s" as |string|}}{{this.push (lookup string.sub "constructor")}}{{/with}}'),
]

BENIGN: list[tuple[Place, str]] = [
    (query, "{{username}}"),
    (form, "Hi {{first_name}}, your order {{order_id}} shipped"),
    (json_body, "Price: ${price} per unit, total ${total}"),
    (query, "#{name}"),
    (query, "<%= title %>"),
    (json_body, '{"name":"John","tags":["a","b"],"nested":{"k":"v"}}'),
    (query, "Hello {name}, your code is {code}"),
    (query, "Choose {1-5} items"),
    (query, "It's 10*10 = 100"),
    (query, "x => x * 2"),
    (query, "what is __init__ in python"),
    (query, "python __name__ == main"),
    (query, "dunder methods like __repr__"),
    (query, "Meet me @ 5pm {room 2}"),
    (form, "[[wiki link]] and [[1, 2], [3, 4]]"),
    (query, "Use {% raw %} blocks carefully"),
    (query, "%{name}s format"),
    (header, "dmn$M${2{vF!3&.kHF@fLQ+8"),
    (query, "f(x) = x^2 + 1"),
    (query, "user.profile.location"),
    (form, "{{#if user}}Welcome back, {{user.name}}{{/if}}"),
    (query, "Total: {{ total | currency }}"),
    (query, "self.__class__.__name__"),
]


@pytest.mark.parametrize(("place", "payload"), ATTACKS)
def test_attack_blocks_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize(
    "payload",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", "{php}system('id');{/php}",
     '${"freemarker.template.utility.Execute"?new()("id")}'],
)  # fmt: skip
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in blocked_keys(KEY, "Basic", implementation, query(payload))


def test_probes_need_standard(implementation: str) -> None:
    request = query("{{7*7}}")
    assert blocked_keys(KEY, "Basic", implementation, request) == set()
    assert KEY in blocked_keys(KEY, "Standard", implementation, request)


@pytest.mark.parametrize("payload", ["{7*7}", "{{ price|round }}", "__globals__"])
def test_strict_only(implementation: str, payload: str) -> None:
    assert blocked_keys(KEY, "Standard", implementation, query(payload)) == set()
    assert KEY in blocked_keys(KEY, "Strict", implementation, query(payload))
