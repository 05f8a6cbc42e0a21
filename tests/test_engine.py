"""Engine decisions: levels, modes, overrides, exceptions, custom rules, limits, parser errors.

The rules here are small test rules, so these tests are about the engine's logic, not about the
built-in patterns (those have their own tests under tests/rules/). Every test runs on both
twins: the Hyperscan extension and the pyre2 engine.
"""

from __future__ import annotations

import json

import pytest

from airlock_filters.decision import mask_excerpt
from airlock_filters.engine import Engine
from airlock_filters.policy import ContentSecurity, default_policy, load_deny_rules, load_limits
from airlock_filters.request import PATH, Request
from airlock_filters.rules import Rule
from airlock_filters.rules._rule import DATA, ENCODED

RULES = [
    Rule("T-B1", "SQL", "Basic", r"\bunion\s+select\b", "test"),
    Rule("T-S1", "SQL", "Standard", r"'\s*or\s+'?1'?\s*=\s*'?1", "test"),
    Rule("T-X1", "SQL", "Strict", r"\bsleep\(", "test"),
    Rule("T-X2", "XSS", "Standard", r"<script", "test"),
    Rule("T-E1", "ENCODING", "Standard", r"%25[0-9a-f]{2}", "test", variants=ENCODED),
    Rule("T-P1", "EXPLOIT", "Standard", r"\.\./", "test", kinds=frozenset({PATH}) | DATA),
]


def engine(implementation: str, deny_spec: dict | None = None, **policy_changes) -> Engine:
    policy = default_policy()
    if deny_spec is not None:
        policy.deny_rules = load_deny_rules(deny_spec)
    for name, value in policy_changes.items():
        setattr(policy, name, value)
    return Engine(policy, rules=RULES, checks=(), implementation=implementation)


def get(target: str, headers: list[tuple[str, str]] | None = None) -> Request:
    return Request("GET", target, [("Host", "shop"), *(headers or [])])


def post_json(obj: object, target: str = "/api") -> Request:
    return Request("POST", target, [("Host", "shop"), ("Content-Type", "application/json")],
                   json.dumps(obj).encode())  # fmt: skip


def test_levels(implementation: str) -> None:
    attack = get("/?q=1%27%20or%201%3D1&s=sleep(5)")
    basic = engine(implementation, {"request": {"builtIn": {"settings": {"level": "Basic"}}}})
    standard = engine(implementation)
    strict = engine(implementation, {"request": {"builtIn": {"settings": {"level": "Strict"}}}})
    off = engine(implementation, {"request": {"builtIn": {"settings": {"level": "Unfiltered"}}}})
    assert basic.inspect(attack).action == "allow"
    standard_decision = standard.inspect(attack)
    assert standard_decision.action == "block"
    assert [m.rule_id for m in standard_decision.matches] == ["T-S1"]
    assert {m.rule_id for m in strict.inspect(attack).matches} == {"T-S1", "T-X1"}
    assert off.inspect(attack).action == "allow"


def test_block_decision_has_everything(implementation: str) -> None:
    decision = engine(implementation).inspect(get("/?q=x%27+or+%271%27%3D%271"))
    assert (decision.action, decision.status, decision.reason) == ("block", 400, "DENY_RULES")
    [match] = decision.matches
    assert (match.rule_key, match.rule_id, match.level, match.mode) == (
        "SQL",
        "T-S1",
        "Standard",
        "Block",
    )
    assert (match.field_type, match.field_name, match.source) == ("Parameter", "q", "Query")
    assert match.excerpt == "' or '1'='1"


def test_raw_and_normalized_forms_are_both_matched(implementation: str) -> None:
    # Double-encoded: the raw form trips ENCODING, the decoded one the SQL rule.
    decision = engine(implementation).inspect(get("/?q=%2527%20or%201=1"))
    assert {m.rule_key for m in decision.matches} == {"ENCODING", "SQL"}


@pytest.mark.parametrize(
    ("request_", "field_type"),
    [
        (get("/a/union%20select/b"), "PathSegment"),
        (get("/", [("Cookie", "a=1; pref=union select 1")]), "Header"),
        (get("/", [("Referer", "http://x/?union select")]), "Header"),
        (post_json({"a": {"b": ["union select"]}}), "JSON"),
        (Request("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")],
                 b"a=union+select"), "Parameter"),
    ],
)  # fmt: skip
def test_every_field_type_is_scanned(
    implementation: str, request_: Request, field_type: str
) -> None:
    decision = engine(implementation).inspect(request_)
    assert decision.action == "block"
    assert decision.matches[0].field_type == field_type


def test_log_only_mode_logs_and_passes(implementation: str) -> None:
    eng = engine(
        implementation, {"request": {"builtIn": {"settings": {"threatHandlingMode": "LogOnly"}}}}
    )
    decision = eng.inspect(get("/?q=union%20select"))
    assert (decision.action, decision.status, decision.reason) == ("log", None, "DENY_RULES")
    assert decision.matches[0].mode == "LogOnly"


def test_overrides_by_rule_key_and_field_type(implementation: str) -> None:
    eng = engine(implementation, {"request": {"builtIn": {"overrides": [
        {"conditions": {"ruleKeys": ["SQL"], "types": ["Header"]},
         "settings": {"level": "Unfiltered"}},
        {"conditions": {"ruleKeys": ["XSS"]}, "settings": {"threatHandlingMode": "LogOnly"}},
        {"conditions": {"types": ["JSON"]}, "settings": {"level": "Strict"}},
    ]}}})  # fmt: skip
    assert eng.inspect(get("/", [("Cookie", "a=union select 1")])).action == "allow"
    assert eng.inspect(get("/?a=union+select+1")).action == "block"
    assert eng.inspect(get("/?a=%3Cscript%3E")).action == "log"
    assert eng.inspect(post_json({"a": "sleep(1)"})).action == "block"
    assert eng.inspect(get("/?a=sleep(1)")).action == "allow"


def _exception(blocked: dict | None = None, conditions: dict | None = None, keys=None) -> dict:
    exc: dict = {}
    if keys:
        exc["ruleKeys"] = keys
    if blocked:
        exc["blockedData"] = blocked
    if conditions:
        exc["requestConditions"] = conditions
    return {"request": {"builtIn": {"exceptions": [exc]}}}


@pytest.mark.parametrize(
    ("exception", "excepted", "not_excepted"),
    [
        (_exception({"parameter": {"name": {"matcher": {"exact": "comment"}}}}),
         get("/?comment=union+select"), get("/?other=union+select")),
        (_exception({"parameter": {"name": {"matcher": {"exact": "c"}}, "source": "Post"}}),
         Request("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")], b"c=union+select"),
         get("/?c=union+select")),
        (_exception({"parameter": {"value": {"matcher": {"prefix": "union"}}}}, keys=["SQL"]),
         get("/?x=union+select"), get("/?x=a+union+select")),
        (_exception({"header": {"name": {"matcher": {"exact": "cookie"}}}}),
         get("/", [("Cookie", "a=union select")]), get("/", [("X-Data", "union select")])),
        (_exception({"path": {"matcher": {"prefix": "/cms/"}}}),
         get("/cms/union%20select"), get("/shop/union%20select")),
        (_exception({"pathSegment": {"segments": {"index": 1}}}),
         get("/cms/union%20select"), get("/union%20select/cms")),
        (_exception({"json": {"jsonPath": "$.posts[*].body"}}),
         post_json({"posts": [{"body": "union select"}]}), post_json({"posts": [{"title": "union select"}]})),
        (_exception({"json": {"key": {"matcher": {"prefix": "union"}}}}),
         post_json({"union select": 1}), post_json({"a": "union select"})),
        (_exception(conditions={"path": {"matcher": {"prefix": "/admin/"}}, "method": ["POST"]}),
         Request("POST", "/admin/x?q=union+select"), get("/admin/x?q=union+select")),
        (_exception(conditions={"remoteIP": {"cidrRanges": ["10.0.0.0/8"]}}),
         Request("GET", "/?q=union+select", remote_ip="10.2.3.4"), get("/?q=union+select")),
        (_exception({"parameter": {"name": {"matcher": {"exact": "q"}}}}, keys=["XSS"]),
         get("/?q=%3Cscript"), get("/?q=union+select")),
    ],
)  # fmt: skip
def test_exceptions(
    implementation: str, exception: dict, excepted: Request, not_excepted: Request
) -> None:
    eng = engine(implementation, exception)
    assert eng.inspect(excepted).action == "allow"
    assert eng.inspect(not_excepted).action == "block"


def test_path_exception_uses_the_normalized_path(implementation: str) -> None:
    # `/public/../admin` must not borrow the exception written for /public/.
    eng = engine(implementation, _exception({"path": {"matcher": {"prefix": "/public/"}}}))
    assert eng.inspect(get("/public/../admin/union%20select")).action == "block"


def _custom(rule: dict) -> dict:
    return {"request": {"custom": {"rules": [{"ruleKey": "MY_RULE", **rule}]}}}


@pytest.mark.parametrize(
    ("rule", "blocked", "passed"),
    [
        ({"blockData": {"parameter": {"name": {"matcher": {"exact": "debug"}}}}},
         get("/?debug=1"), get("/?nodebug=1")),
        ({"blockData": {"parameter": {"value": {"matcher": {"regex": "[0-9]{16}"}}}}},
         get("/?cc=4111111111111111"), get("/?cc=4111 1111")),
        ({"blockData": {"parameter": {"name": {"matcher": {"exact": "role"}},
                                      "value": {"matcher": {"exact": "admin", "ignoreCase": True}}}}},
         get("/?role=ADMIN"), get("/?other=admin")),
        ({"blockData": {"header": {"name": {"matcher": {"exact": "x-debug"}}}}},
         get("/", [("X-Debug", "on")]), get("/", [("X-Other", "on")])),
        ({"blockData": {"header": {"value": {"matcher": {"contains": "evil"}}}}},
         get("/", [("User-Agent", "an evil bot")]), get("/", [("User-Agent", "Mozilla")])),
        ({"blockData": {"path": {"matcher": {"suffix": ".php"}}}},
         get("/index.php"), get("/index.html")),
        ({"blockData": {"pathSegment": {"segments": {"index": 0}, "value": {"matcher": {"exact": "internal"}}}}},
         get("/internal/x"), get("/x/internal")),
        ({"blockData": {"json": {"key": {"matcher": {"exact": "isAdmin"}}}}},
         post_json({"user": {"isAdmin": True}}), post_json({"user": {"name": "isAdmin"}})),
        ({"blockData": {"json": {"value": {"matcher": {"prefix": "javascript:"}}}}},
         post_json({"link": "javascript:x"}), post_json({"link": "https://x"})),
        ({"blockData": {"parameter": {"name": {"matcher": {"exact": "q"}}}},
          "requestConditions": {"method": ["POST"]}},
         Request("POST", "/?q=1"), get("/?q=1")),
    ],
)  # fmt: skip
def test_custom_rules(implementation: str, rule: dict, blocked: Request, passed: Request) -> None:
    eng = engine(implementation, _custom(rule))
    decision = eng.inspect(blocked)
    assert decision.action == "block", decision
    assert decision.matches[0].rule_key == "MY_RULE"
    assert decision.matches[0].level == "Custom"
    assert eng.inspect(passed).action == "allow"


def test_custom_rule_log_only(implementation: str) -> None:
    eng = engine(implementation, _custom({
        "blockData": {"parameter": {"name": {"matcher": {"exact": "debug"}}}},
        "threatHandlingMode": "LogOnly"}))  # fmt: skip
    decision = eng.inspect(get("/?debug=1"))
    assert (decision.action, decision.matches[0].mode) == ("log", "LogOnly")


def test_parser_errors_block_with_reason(implementation: str) -> None:
    decision = engine(implementation).inspect(
        Request("POST", "/", [("Content-Type", "application/json")], b"{broken")
    )
    assert (decision.action, decision.status, decision.reason) == ("block", 400, "PARSER")
    assert "invalid JSON" in decision.detail


def test_limits_block_and_log_only(implementation: str) -> None:
    policy = default_policy()
    policy.limits = load_limits({"request": {"limited": {"parameter": {"count": 2}}}})
    decision = Engine(policy, rules=RULES, checks=(), implementation=implementation).inspect(
        get("/?a=1&b=2&c=3")
    )
    assert (decision.action, decision.reason) == ("block", "LIMITS")
    assert "parameter.count" in decision.detail
    policy.limits = load_limits({"request": {"limited": {"parameter": {"count": 2}}},
                                 "settings": {"threatHandlingMode": "LogOnly"}})  # fmt: skip
    eng = Engine(policy, rules=RULES, checks=(), implementation=implementation)
    logged = eng.inspect(get("/?a=1&b=2&c=3"))
    assert (logged.action, logged.reason) == ("log", "LIMITS")
    # LogOnly limits still inspect the whole request.
    assert eng.inspect(get("/?a=1&b=2&c=union+select")).action == "block"


def test_unsecured_policy_allows_everything(implementation: str) -> None:
    policy = default_policy()
    policy = ContentSecurity(policy.parser, policy.limits, policy.deny_rules, secured=False)
    assert Engine(policy, rules=RULES, checks=(), implementation=implementation).inspect(
        get("/?q=union+select")).action == "allow"  # fmt: skip


def test_parser_settings_select_or_skip_the_body_parser(implementation: str) -> None:
    from airlock_filters.policy import load_parser

    body = b'{"q": "union select"}'
    policy = default_policy()
    policy.parser = load_parser({"request": {"parsers": {"json": {"enable": False}}}})
    eng = Engine(policy, rules=RULES, checks=(), implementation=implementation)
    # JSON parsing off: the body is still inspected, as one unparsed field.
    decision = eng.inspect(post_json({"q": "union select"}))
    assert decision.action == "block" and decision.matches[0].field_type == "Parameter"
    policy.parser = load_parser({"request": {"custom": {"rules": [
        {"action": {"parse": {"json": {}}}, "requestConditions": {"path": {"matcher": {"prefix": "/raw"}}}},
        {"action": {"skip": {}}, "requestConditions": {"path": {"matcher": {"prefix": "/upload"}}}},
    ]}}})  # fmt: skip
    eng = Engine(policy, rules=RULES, checks=(), implementation=implementation)
    forced = eng.inspect(Request("POST", "/raw", [("Content-Type", "text/plain")], body))
    assert forced.matches[0].field_type == "JSON"
    assert (
        eng.inspect(Request("POST", "/upload", [("Content-Type", "application/json")], body)).action
        == "allow"
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("password", "hunter2' or 1=1", "hu***(15 chars)"),
        ("q", "eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiIxMjM0NSJ9 union", "eyJh*** union"),
        ("q", "a" * 100, "a" * 4 + "***"),
    ],
)
def test_excerpts_are_masked(name: str, text: str, expected: str) -> None:
    assert mask_excerpt(name, text) == expected


@pytest.mark.parametrize(
    ("request_", "action", "reason"),
    [
        # 1 MiB of `(` as a form: stopped by parameter.bodySize before it is decoded.
        (Request("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")],
                 b"a=" + b"(" * 2**20), "block", "LIMITS"),
        # ... as an unparsed text body: inspected up to the form body size.
        (Request("POST", "/", [("Content-Type", "text/plain")], b"(" * 2**20), "allow", None),
        # ... in a JSON string: stopped by json.bodySize.
        (Request("POST", "/", [("Content-Type", "application/json")],
                 b'{"a": "' + b"(" * 2**20 + b'"}'), "block", "LIMITS"),
        # 10^5 parameters: stopped by parameter.count at the 129th.
        (get("/?" + "&".join(f"p{i}=(" for i in range(10**5))), "block", "LIMITS"),
        # 10^5 nested arrays: stopped by json.nestingDepth before parsing.
        (Request("POST", "/", [("Content-Type", "application/json")],
                 b"[" * 10**5 + b"]" * 10**5), "block", "LIMITS"),
        # An overlong header value: stopped by the header size limit.
        (get("/", [("X-Long", "(" * 2**20)]), "block", "LIMITS"),
        # A multipart upload of 1 MiB of `(` in a file: file contents are not parameters.
        (Request("POST", "/", [("Content-Type", "multipart/form-data; boundary=b")],
                 b'--b\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\n'
                 + b"(" * 2**20 + b"\r\n--b--\r\n"), "allow", None),
    ],
)  # fmt: skip
def test_pathological_input(
    implementation: str, request_: Request, action: str, reason: str | None
) -> None:
    decision = engine(implementation).inspect(request_)
    assert (decision.action, decision.reason) == (action, reason), decision.detail


def test_vertical_tab_is_whitespace_in_both_twins(implementation: str) -> None:
    # Hyperscan's `\s` takes the vertical tab and RE2's does not: the engine widens every `\s`
    # so that the twins agree, custom rules included.
    rules = [Rule("T-W1", "SQL", "Standard", r"union\s+select", "test")]
    custom = _custom({"blockData": {"parameter": {"value": {"matcher": {"regex": r"a\sb"}}}}})
    policy = default_policy()
    policy.deny_rules = load_deny_rules(custom)
    eng = Engine(policy, rules=rules, checks=(), implementation=implementation)
    assert {m.rule_key for m in eng.inspect(get("/?q=union%0Bselect")).matches} == {"SQL"}
    assert {m.rule_key for m in eng.inspect(get("/?q=a%0Bb")).matches} == {"MY_RULE"}


def test_checks_of_a_kind_absent_from_the_request_are_skipped(implementation: str) -> None:
    from airlock_filters.request import HEADER, JSON, META, Field
    from airlock_filters.rules import Check

    calls: list[str] = []

    def probe(name: str, kind: int) -> Check:
        def run(request: Request, parsed: object) -> list[tuple[Field, str]]:
            calls.append(name)
            return [(Field(kind, "X-Probe", "v", "v", "Header"), "v")] if kind == META else []

        return Check(f"IDOR-{name}", "IDOR", "Standard", kind, name, run)

    checks = [probe("json", JSON), probe("header", HEADER), probe("meta", META)]
    engine = Engine(default_policy(), rules=(), checks=checks, implementation=implementation)
    decision = engine.inspect(Request("GET", "/a?b=c", [("Host", "h")]))
    # No JSON field: the JSON check is not run. Header kinds share a field type, so both run
    # (a header check may report a header it made up, as the protocol checks do).
    assert calls == ["header", "meta"]
    assert [m.rule_id for m in decision.matches] == ["IDOR-meta"]
    calls.clear()
    engine.inspect(Request("POST", "/", [("Content-Type", "application/json")], b'{"a": 1}'))
    assert calls == ["json", "header", "meta"]
