"""Whole-corpus checks: detection targets, and the two engine twins deciding alike.

Uses the CRS regression corpus (`../shared/corpus/`, beside the repository) and our benign
corpus (`bench/corpus/benign.jsonl`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airlock_filters.engine import Engine
from airlock_filters.policy import default_policy
from airlock_filters.request import Request

REPO = Path(__file__).resolve().parent.parent
CRS_CORPUS = REPO.parent / "shared" / "corpus" / "crs-regression.jsonl"
BENIGN_CORPUS = REPO / "bench" / "corpus" / "benign.jsonl"


def _requests() -> list[tuple[str, Request]]:
    out = []
    for path in (CRS_CORPUS, BENIGN_CORPUS):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                obj = json.loads(line)
                out.append((obj["id"], Request.from_json(obj)))
    return out


def test_detection_targets_are_met() -> None:
    """bench/detection.py --check: TPR and FPR targets at Standard and Strict."""
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "detection.py"), "--levels", "Standard", "Strict",
         "--check", "--show-fp", "20", "--show-misses", "3"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.parametrize("level", ["Standard", "Strict"])
def test_twins_decide_alike_on_the_whole_corpus(level: str) -> None:
    compiled = Engine(default_policy(level), implementation="hyperscan")
    pure = Engine(default_policy(level), implementation="re2")
    differences = []
    for request_id, request in _requests():
        a, b = compiled.inspect(request), pure.inspect(request)
        ids_a = sorted(m.rule_id for m in a.matches)
        ids_b = sorted(m.rule_id for m in b.matches)
        if (a.action, a.reason, ids_a) != (b.action, b.reason, ids_b):
            differences.append((request_id, a.action, ids_a, b.action, ids_b))
    assert differences == []
