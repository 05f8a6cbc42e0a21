"""The `airlock-filters inspect` command line: a stable interface."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airlock_filters.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "airlock_filters" / "samples" / "requests.jsonl"


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airlock_filters", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_one_output_line_per_input_line_in_order(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "ok", "method": "GET", "path": "/a?b=c", "headers": [["Host", "x"]],
                    "body": None, "extra": "ignored"}),
        "this is not json",
        json.dumps({"id": "bad-headers", "headers": "nope"}),
        json.dumps({"id": "parse", "method": "POST", "path": "/", "body": "{",
                    "headers": [["Host", "x"], ["Content-Type", "application/json"]]}),
        json.dumps({"id": "b64", "method": "POST", "path": "/", "body": "e30=", "body_b64": True,
                    "headers": [["Host", "x"], ["Content-Type", "application/json"]]}),
    ]  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = run(["inspect", str(path)])
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["ok", None, "bad-headers", "parse", "b64"]
    assert out[0]["action"] == "allow" and out[0]["matches"] == []
    assert set(out[0]) == {"id", "action", "status", "reason", "matches"}
    assert "error" in out[1] and "error" in out[2]
    assert (out[3]["action"], out[3]["status"], out[3]["reason"]) == ("block", 400, "PARSER")
    assert out[4]["action"] == "allow"


def test_stdin_and_level() -> None:
    line = json.dumps({"id": "1", "method": "GET", "path": "/", "headers": [["Host", "x"]]})
    result = run(["inspect", "--level", "Strict", "-"], stdin=line + "\n")
    assert result.returncode == 0
    assert json.loads(result.stdout)["action"] == "allow"


def test_bad_policy_and_missing_input_exit_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("apiVersion: microgateway.airlock.com/v1alpha1\nkind: DenyRules\n"
                   "spec: {request: {builtIn: {settings: {level: Max}}}}\n")  # fmt: skip
    result = run(["inspect", "--policy", str(bad), str(SAMPLES)])
    assert result.returncode == 2
    assert "spec.request.builtIn.settings.level" in result.stderr
    assert run(["inspect", str(tmp_path / "missing.jsonl")]).returncode == 2


def test_policy_file_is_used(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: microgateway.airlock.com/v1alpha1\nkind: DenyRules\nmetadata: {name: d}\n"
        "spec:\n  request:\n    custom:\n      rules:\n      - ruleKey: NO_DEBUG\n"
        "        blockData: {parameter: {name: {matcher: {exact: debug}}}}\n"
    )
    line = json.dumps({"id": "1", "method": "GET", "path": "/?debug=1", "headers": [["Host", "x"]]})
    out = json.loads(run(["inspect", "--policy", str(policy), "-"], stdin=line).stdout)
    assert out["action"] == "block"
    assert out["matches"][0]["rule_key"] == "NO_DEBUG"


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--explain", str(SAMPLES)]) == 0
    report = capsys.readouterr().out
    assert "browse  GET /products" in report
    assert "-> ALLOW" in report
    assert "-> BLOCK 400 (PARSER)" in report
