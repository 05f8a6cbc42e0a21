"""The compiled-database cache: a second engine over the same rules loads, not compiles."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from airlock_filters import _scanner_c, scanner

PATTERNS = [(rb"\bunion\s+select\b", 1, 0b01), (rb"<script", 1, 0b10), (rb"\Axx*", 0, 0b11)]
VALUES = [b"1 UNION SELECT 2", b"<SCRIPT>", b"xx"]


def test_serialized_database_scans_like_the_original() -> None:
    original = _scanner_c.Scanner(PATTERNS)
    loaded = _scanner_c.Scanner(
        PATTERNS, serialized=original.serialize(), rejected=original.rejected
    )
    bits = [0b01, 0b10, 0b11]
    assert loaded.scan(VALUES, bits) == original.scan(VALUES, bits) == [(0, 0), (1, 1), (2, 2)]
    assert loaded.rejected == original.rejected == []
    with pytest.raises(ValueError, match="serialized"):
        _scanner_c.Scanner(PATTERNS, serialized=b"garbage", rejected=[])


def test_cache_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(tmp_path))
    first = scanner.build_scanner(PATTERNS, "hyperscan")
    [cached] = list(tmp_path.glob("*.hsdb"))
    second = scanner.build_scanner(PATTERNS, "hyperscan")
    bits = [0b01, 0b10, 0b11]
    assert first.scan(VALUES, bits) == second.scan(VALUES, bits) == [(0, 0), (1, 1), (2, 2)]
    # Masks are not part of the database: other masks reuse the same file.
    remasked = [(e, f, 0b10) for e, f, _ in PATTERNS]
    assert scanner.build_scanner(remasked, "hyperscan").scan(VALUES, bits) == [(1, 1), (2, 2)]
    assert list(tmp_path.glob("*.hsdb")) == [cached]
    # A damaged cache file is recompiled, not trusted.
    cached.write_bytes(b"\x00\x00\x00\x02{}garbage")
    assert scanner.build_scanner(PATTERNS, "hyperscan").scan(VALUES, bits) == [
        (0, 0),
        (1, 1),
        (2, 2),
    ]


def test_unwritable_cache_still_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(blocker / "cache"))
    assert scanner.build_scanner(PATTERNS, "hyperscan").scan([b"<script"], [0b10]) == [(1, 0)]


def test_refused_patterns_are_remembered_by_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(tmp_path))
    patterns = [*PATTERNS, (rb"y*", 0, 0b11)]  # can match the empty string: RE2 takes it
    for _ in range(2):
        assert scanner.build_scanner(patterns, "hyperscan").scan([b"ab"], [0b01]) == [(3, 0)]


def test_refused_pattern_falls_back_to_re2_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(tmp_path))
    patterns = [(rb"<script", 1, 0b1), (rb"(?U)a+b", 0, 0b1)]  # Hyperscan refuses (?U)
    with caplog.at_level(logging.WARNING, logger="airlock_filters.scanner"):
        hybrid = scanner.build_scanner(patterns, "hyperscan")
    assert "pattern 1 falls back to RE2" in caplog.text
    assert hybrid.scan([b"xaab", b"<script>"], [0b1, 0b1]) == [(0, 1), (1, 0)]


def test_only_uncached_databases_are_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy that adds a custom rule (its own group) must not recompile the built-in groups."""
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(tmp_path))
    built_in = [(rb"\bunion\s+select\b", 1, 0b1), (rb"<script", 1, 0b1)]
    scanner.build_scanner(built_in, "hyperscan", groups=[0, 1])
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.hsdb")}
    assert len(before) == 2  # one file per database

    compiled: list[list[int]] = []
    real = _scanner_c.Scanner

    def counting(patterns, groups, serialized=None, rejected=None):  # type: ignore[no-untyped-def]
        compiled.extend(
            scanner.database_members(patterns, groups)[d]
            for d, s in enumerate(serialized or [])
            if s is _scanner_c.COMPILE
        )
        return real(patterns, groups, serialized=serialized, rejected=rejected)

    custom = [*built_in, (rb"secret-token", 1, 0b1)]
    hybrid = scanner.HybridScanner(custom, counting, groups=[0, 1, 2])
    assert compiled == [[2]]  # only the custom rule's database
    assert hybrid.scan([b"<script>", b"a secret-token"], [0b1, 0b1]) == [(1, 0), (2, 1)]
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.hsdb")}
    assert {n: after[n] for n in before} == before and len(after) == 3

    compiled.clear()
    scanner.HybridScanner(custom, counting, groups=[0, 1, 2])
    assert compiled == []  # everything cached now


def test_database_members_match_the_compiled_scanner() -> None:
    patterns = [(rb"a", 0, 1), (rb"b", _scanner_c.JOINED, 1), (rb"c", 0, 1), (rb"d", 0, 1)]
    groups = [1, 0, 1, 0]
    members = scanner.database_members(patterns, groups)
    assert members == [[3], [1], [0, 2]]  # by (group, joined): (0, F), (0, T), (1, F)
    assert len(_scanner_c.Scanner(patterns, groups).serialize()) == len(members)


def test_the_cache_evicts_the_oldest_files_over_its_limit(tmp_path: Path) -> None:
    for age, name in enumerate(["old", "middle", "new"]):
        path = tmp_path / f"{name}.hsdb"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + age, 1000 + age))
    (tmp_path / "unrelated.txt").write_bytes(b"x" * 1000)
    scanner._evict(tmp_path, limit=250)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "middle.hsdb",
        "new.hsdb",
        "unrelated.txt",
    ]


def test_a_cpu_hyperscan_cannot_run_on_falls_back_to_re2(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert _scanner_c.valid_platform()  # this machine runs it
    monkeypatch.setattr(_scanner_c, "valid_platform", lambda: False)
    with caplog.at_level(logging.WARNING, logger="airlock_filters.scanner"):
        assert scanner._load_extension() is None
    assert "SSE4.2" in caplog.text


def test_cached_only_refuses_to_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(tmp_path))
    with scanner.cached_only(), pytest.raises(scanner.NotCached):
        scanner.build_scanner(PATTERNS, "hyperscan")
    assert list(tmp_path.glob("*.hsdb")) == []
    scanner.build_scanner(PATTERNS, "hyperscan")
    with scanner.cached_only():
        assert scanner.build_scanner(PATTERNS, "hyperscan").scan([b"<script"], [0b10]) == [(1, 0)]
    # The guard ends with its block.
    scanner.build_scanner(PATTERNS[:1], "hyperscan")


def test_a_cached_database_that_does_not_load_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Its header is fine, the database is not (damaged, or from a CPU with other features)."""
    monkeypatch.setenv("AIRLOCK_FILTERS_CACHE_DIR", str(tmp_path))
    scanner.build_scanner(PATTERNS, "hyperscan")
    [cached] = list(tmp_path.glob("*.hsdb"))
    data = cached.read_bytes()
    meta_end = 4 + int.from_bytes(data[:4], "big")
    cached.write_bytes(data[:meta_end] + b"\x00" * (len(data) - meta_end))
    with scanner.cached_only(), pytest.raises(scanner.NotCached):
        scanner.build_scanner(PATTERNS, "hyperscan")
    with caplog.at_level(logging.WARNING, logger="airlock_filters.scanner"):
        rebuilt = scanner.build_scanner(PATTERNS, "hyperscan")
    assert "do not load" in caplog.text
    bits = [0b01, 0b10, 0b11]
    assert rebuilt.scan(VALUES, bits) == [(0, 0), (1, 1), (2, 2)]
    assert cached.read_bytes() == data  # the file is good again
