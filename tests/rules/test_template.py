"""Rule key TEMPLATE: template injection must block at Standard, placeholders and braces pass.

The engine here holds only the TEMPLATE rules (with the default policy), so a benign case
proves that TEMPLATE stays quiet regardless of what other keys think of it, and every test runs
on both scanner twins.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from airlock_filters import Engine, Request, default_policy
from airlock_filters.rules import BUILTIN_RULES

KEY = "TEMPLATE"


@functools.cache
def engine(level: str, implementation: str) -> Engine:
    rules = [rule for rule in BUILTIN_RULES if rule.key == KEY]
    return Engine(default_policy(level), rules=rules, checks=(), implementation=implementation)


def query(value: str) -> Request:
    return Request("GET", "/greet?name=" + quote(value, safe=""), [("Host", "shop")])


def form(value: str) -> Request:
    body = "subject=" + quote_plus(value) + "&send=1"
    return Request("POST", "/newsletter", [("Host", "shop"),
                   ("Content-Type", "application/x-www-form-urlencoded")], body.encode())  # fmt: skip


def json_body(value: str) -> Request:
    body = json.dumps({"profile": {"display_name": value, "age": 30}})
    return Request("PUT", "/api/me", [("Host", "shop"), ("Content-Type", "application/json")],
                   body.encode())  # fmt: skip


def cookie(value: str) -> Request:
    return Request("GET", "/", [("Host", "shop"), ("Cookie", "greeting=" + quote(value))])


def header(value: str) -> Request:
    return Request("GET", "/", [("Host", "shop"), ("X-Tenant-Name", value)])


def xml_body(value: str) -> Request:
    return Request("POST", "/import", [("Host", "shop"), ("Content-Type", "text/xml")],
                   value.encode())  # fmt: skip


def keys(level: str, implementation: str, request: Request) -> set[str]:
    decision = engine(level, implementation).inspect(request)
    return {m.rule_key for m in decision.matches} if decision.action == "block" else set()


Place = Callable[[str], Request]

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
    assert KEY in keys("Standard", implementation, place(payload))


@pytest.mark.parametrize(("place", "payload"), BENIGN)
def test_benign_passes_at_standard(implementation: str, place: Place, payload: str) -> None:
    assert keys("Standard", implementation, place(payload)) == set()


@pytest.mark.parametrize(
    "payload",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", "{php}system('id');{/php}",
     '${"freemarker.template.utility.Execute"?new()("id")}'],
)  # fmt: skip
def test_basic_catches_the_unmistakable(implementation: str, payload: str) -> None:
    assert KEY in keys("Basic", implementation, query(payload))


def test_probes_need_standard(implementation: str) -> None:
    request = query("{{7*7}}")
    assert keys("Basic", implementation, request) == set()
    assert KEY in keys("Standard", implementation, request)


@pytest.mark.parametrize("payload", ["{7*7}", "{{ price|round }}", "__globals__"])
def test_strict_only(implementation: str, payload: str) -> None:
    assert keys("Standard", implementation, query(payload)) == set()
    assert KEY in keys("Strict", implementation, query(payload))
