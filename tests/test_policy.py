"""The policy model: shapes, defaults, errors with field paths, YAML loading."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from airlock_filters.errors import PolicyError
from airlock_filters.policy import (
    RequestConditions,
    RequestContext,
    StringMatcher,
    default_policy,
    load_deny_rules,
    load_limits,
    load_parser,
    load_policy_files,
)
from airlock_filters.spec import parse_quantity


def test_empty_specs_give_documented_defaults() -> None:
    deny = load_deny_rules({})
    assert (deny.level, deny.mode) == ("Standard", "Block")
    assert deny.overrides == deny.exceptions == deny.custom_rules == []
    limits = load_limits({})
    assert limits.enabled and limits.mode == "Block"
    assert limits.body_size == 100 * 2**20
    assert limits.path_length == 1024
    assert (limits.param_body_size, limits.param_count) == (100 * 1024, 128)
    assert (limits.param_name_length, limits.param_value_length) == (128, 8192)
    assert (limits.json_body_size, limits.json_nesting_depth) == (100 * 1024, 100)
    assert (limits.json_key_count, limits.json_element_count) == (250, 10000)
    assert (limits.json_key_length, limits.json_value_length) == (128, 8192)
    assert limits.multipart_body_size == 100 * 2**20
    parser = load_parser({})
    assert parser.default_content_type == "application/x-www-form-urlencoded"
    assert set(parser.media_types) == {"form", "json", "multipart"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100Mi", 100 * 2**20), ("1Ki", 1024), ("128", 128), (77, 77), ("1k", 1000),
     ("1.5Ki", 1536), ("1e3", 1000), ("0.5", 1)],
)  # fmt: skip
def test_quantities(text: str | int, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"request": {"custom": {"rules": [
                {"ruleKey": "OK_1", "blockData": {"path": {"matcher": {"exact": "/a"}}}},
                {"ruleKey": "OK_2", "blockData": {"path": {"matcher": {"exact": "/b"}}}},
                {"ruleKey": "bad-key", "blockData": {"path": {"matcher": {"exact": "/c"}}}},
            ]}}},
            "spec.request.custom.rules[2].ruleKey: must match ^[A-Z][A-Z0-9_]*$",
        ),
        (
            {"request": {"builtIn": {"settings": {"level": "Paranoid"}}}},
            "spec.request.builtIn.settings.level: must be one of Unfiltered, Basic, Standard, "
            "Strict, got 'Paranoid'",
        ),
        (
            {"request": {"builtIn": {"exceptions": [{"ruleKeys": ["SQL"]}]}}},
            "spec.request.builtIn.exceptions[0]: at least one of [blockedData, requestConditions]"
            " must be set",
        ),
        (
            {"request": {"custom": {"rules": [{"ruleKey": "X", "blockData": {
                "path": {"matcher": {"exact": "/a", "prefix": "/b"}}}}]}}},
            "spec.request.custom.rules[0].blockData.path.matcher: exactly one of [exact, prefix, "
            "suffix, regex, contains] must be set",
        ),
        (
            {"request": {"custom": {"rules": [{"ruleKey": "X", "blockData": {
                "path": {"matcher": {"regex": "a(b"}}}}]}}},
            "spec.request.custom.rules[0].blockData.path.matcher.regex: not a valid RE2",
        ),
        (
            {"request": {"builtIn": {"settngs": {}}}},
            "spec.request.builtIn.settngs: unknown field",
        ),
        (
            {"request": {"builtIn": {"exceptions": [{"requestConditions": {
                "remoteIP": {"cidrRanges": ["10.0.0.0/33"]}}}]}}},
            "spec.request.builtIn.exceptions[0].requestConditions.remoteIP.cidrRanges[0]: "
            "not a CIDR range",
        ),
    ],
)  # fmt: skip
def test_invalid_deny_rules_name_the_field(spec: dict, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_deny_rules(spec)
    assert str(info.value).startswith(message)


def test_invalid_limits_name_the_field() -> None:
    with pytest.raises(PolicyError, match=r"spec.request.limited.json.valueLength: must be a "):
        load_limits({"request": {"limited": {"json": {"valueLength": "lots"}}}})
    with pytest.raises(PolicyError, match=r"at most one of \[unlimited, limited\]"):
        load_limits({"request": {"limited": {}, "unlimited": {}}})
    assert not load_limits({"request": {"unlimited": {}}}).enabled


def test_limits_accept_quantities_and_ints() -> None:
    limits = load_limits(
        {"request": {"limited": {"general": {"bodySize": "2Mi", "pathLength": 50}}}}
    )
    assert (limits.body_size, limits.path_length) == (2 * 2**20, 50)


def test_overrides_last_match_wins() -> None:
    deny = load_deny_rules(
        {"request": {"builtIn": {
            "settings": {"level": "Basic"},
            "overrides": [
                {"conditions": {"ruleKeys": ["SQL"]}, "settings": {"level": "Strict"}},
                {"conditions": {"ruleKeys": ["SQL"], "types": ["Header"]},
                 "settings": {"threatHandlingMode": "LogOnly", "level": "Unfiltered"}},
            ],
        }}}
    )  # fmt: skip
    assert deny.settings_for("SQL", "Parameter") == ("Strict", "Block")
    assert deny.settings_for("SQL", "Header") == ("Unfiltered", "LogOnly")
    assert deny.settings_for("XSS", "Parameter") == ("Basic", "Block")


@pytest.mark.parametrize(
    ("matcher", "text", "expected"),
    [
        ({"exact": "/a"}, "/a", True), ({"exact": "/a"}, "/A", False),
        ({"exact": "/a", "ignoreCase": True}, "/A", True),
        ({"prefix": "/api/"}, "/api/x", True), ({"prefix": "/api/"}, "/ap", False),
        ({"suffix": ".php"}, "/x.PHP", False), ({"suffix": ".php", "ignoreCase": True}, "/x.PHP", True),
        ({"contains": "adm"}, "/x/admin", True),
        ({"regex": "/a.*"}, "/abc", True), ({"regex": "/a"}, "/abc", False),
        ({"regex": "/A.*", "ignoreCase": True}, "/abc", True),
    ],
)  # fmt: skip
def test_string_matchers(matcher: dict, text: str, expected: bool) -> None:
    assert StringMatcher({"matcher": matcher})(text) is expected


def test_request_conditions() -> None:
    ctx = RequestContext("POST", "/api/x", [("X-Env", "test")], "10.1.2.3", "application/json")
    cond = RequestConditions
    assert cond({"method": ["POST"], "path": {"matcher": {"prefix": "/api"}}})(ctx)
    assert not cond({"method": ["GET"]})(ctx)
    assert cond({"method": ["GET"], "invert": True})(ctx)
    assert cond({"header": {"name": {"matcher": {"exact": "x-env"}},
                            "value": {"matcher": {"exact": "test"}}}})(ctx)  # fmt: skip
    assert cond({"remoteIP": {"cidrRanges": ["10.0.0.0/8"]}})(ctx)
    assert not cond({"remoteIP": {"cidrRanges": ["10.0.0.0/8"], "invert": True}})(ctx)
    assert cond({"mediaType": {"matcher": {"contains": "json"}}})(ctx)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_load_policy_from_multi_document_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "policy.yaml", """
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: ContentSecurityPolicy
        metadata: {name: shop}
        spec:
          targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop}]
          secured:
            limitsRef: {name: tight}
            filter: {denyRulesRef: {name: strict}}
        ---
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: DenyRules
        metadata: {name: strict}
        spec:
          request:
            builtIn:
              settings: {level: Strict, threatHandlingMode: LogOnly}
        ---
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: Limits
        metadata: {name: tight}
        spec:
          request:
            limited:
              parameter: {count: 5}
        ---
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: Limits
        metadata: {name: unused}
        spec: {}
        """)  # fmt: skip
    policy = load_policy_files([path])
    assert policy.name == "shop"
    assert (policy.deny_rules.level, policy.deny_rules.mode) == ("Strict", "LogOnly")
    assert policy.limits.param_count == 5
    assert policy.parser.default_content_type == "application/x-www-form-urlencoded"


def test_policy_file_errors(tmp_path: Path) -> None:
    missing_ref = _write(tmp_path, "a.yaml", """
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: ContentSecurityPolicy
        metadata: {name: p}
        spec:
          targetRefs: []
          secured: {parserRef: {name: nope}}
        """)  # fmt: skip
    with pytest.raises(PolicyError, match="Parser 'nope' not found"):
        load_policy_files([missing_ref])
    bad_spec = _write(tmp_path, "b.yaml", """
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: DenyRules
        metadata: {name: d}
        spec: {request: {builtIn: {settings: {level: High}}}}
        """)  # fmt: skip
    with pytest.raises(
        PolicyError, match=r"b.yaml: DenyRules/d: spec.request.builtIn.settings.level"
    ):
        load_policy_files([bad_spec])
    with pytest.raises(PolicyError, match="invalid YAML"):
        load_policy_files([_write(tmp_path, "c.yaml", "a: [b\n")])
    with pytest.raises(PolicyError, match="unsupported kind"):
        load_policy_files(
            [
                _write(
                    tmp_path, "d.yaml", "apiVersion: microgateway.airlock.com/v1alpha1\nkind: Foo\n"
                )
            ]
        )
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy_files([tmp_path / "missing.yaml"])


def test_unsecured_policy_and_level_override() -> None:
    assert default_policy("Strict").deny_rules.level == "Strict"
    with pytest.raises(PolicyError):
        default_policy("Paranoid")


def test_schema_renders_openapi_with_defaults() -> None:
    from airlock_filters.resources import DENY_RULES_SPEC, LIMITS_SPEC

    schema = DENY_RULES_SPEC.openapi()
    settings = schema["properties"]["request"]["properties"]["builtIn"]["properties"]["settings"]
    assert settings["properties"]["level"]["default"] == "Standard"
    assert settings["properties"]["level"]["enum"] == ["Unfiltered", "Basic", "Standard", "Strict"]
    limited = LIMITS_SPEC.openapi()["properties"]["request"]["properties"]["limited"]
    assert limited["properties"]["general"]["properties"]["bodySize"]["default"] == "100Mi"
