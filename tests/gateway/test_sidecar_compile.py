"""The sidecar compiles new policies in a child process only when the cache lacks a database."""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

import pytest

from airlock_filters.request import Request
from airlock_microgateway import sidecar


def _children(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = subprocess.run

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(sidecar.subprocess, "run", recording)
    return calls


def test_cached_policies_need_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    sidecar._compile([])  # the built-in policy, cached by this call at the latest
    children = _children(monkeypatch)
    policies = sidecar._compile([])
    assert children == []
    assert sorted(policies.policies) == ["default"]


def test_a_new_rule_is_compiled_in_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    token = uuid.uuid4().hex  # a pattern no cache has seen
    rule = {
        "ruleKey": "TOKEN",
        "blockData": {"parameter": {"value": {"matcher": {"regex": f"token-{token}"}}}},
    }
    document = {
        "apiVersion": "microgateway.airlock.com/v1alpha1",
        "kind": "DenyRules",
        "metadata": {"name": "rules"},
        "spec": {"request": {"custom": {"rules": [rule]}}},
    }
    children = _children(monkeypatch)
    policies = sidecar._compile([("rules.yaml", document)])
    assert len(children) == 1
    engine = policies.policies["default"].engine
    request = Request("GET", f"/?q=token-{token}", [("Host", "shop")])
    assert [m.rule_id for m in engine.inspect(request).matches] == ["custom:TOKEN"]
    # The child filled the cache: the same documents again need none.
    sidecar._compile([("rules.yaml", document)])
    assert len(children) == 1
