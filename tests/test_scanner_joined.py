"""Joined scanning: sealed patterns searched in all values at once give each value's own hits.

The Hyperscan scanner joins the values into one buffer framed as ``\\xff value \\xfe`` and
searches patterns rewritten by `airlock_filters._seal`; the RE2 twin searches the original
patterns one value at a time. Both must report the same hits, whatever the values hold.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock_filters import _scanner_c, _scanner_py
from airlock_filters._scanner_py import CASELESS, DOTALL
from airlock_filters._seal import seal
from airlock_filters.engine import Engine
from airlock_filters.policy import default_policy
from airlock_filters.scanner import ScannerProtocol, build_scanner

ALL = 0xFFFFFFFF

# Each would match across the frame between two values, or at the wrong place, if a frame
# byte were taken by anything but the rewritten anchors.
BOUNDARY_PATTERNS: list[tuple[bytes, int]] = [
    (rb"\Aab", 0),
    (rb"ab\z", 0),
    (rb"\Aab\z", 0),
    (rb"(?:\A|[^a-z])cd", 0),
    (rb"cd(?:[^a-z]|\z)", 0),
    (rb"b[^a]", 0),
    (rb"[^a]c", 0),
    (rb"b\S", 0),
    (rb"\Wc", 0),
    (rb"b\D", 0),
    (rb"b.", 0),
    (rb"b.", DOTALL),
    (rb"b[\x80-\xff]", 0),
    (rb"[\x80-\xff]{2}", 0),
    (rb"\bcd\b", 0),
    (rb"\Bd", 0),
    (rb"b[^x]{0,8}c", CASELESS),
    (rb"\A[^=]{0,4}=", 0),
    (rb"\A\s*\z", 0),
    (rb"(?:ab|\Ac)+d", 0),
    (rb"x(?:y|\z)", 0),
    (rb"^ab", 0),  # not sealed: searched one value at a time
    (rb"(?i)AB\z", 0),  # not sealed either
]

TOKENS = [b"a", b"b", b"c", b"d", b"ab", b"cd", b"=", b" ", b"\n", b"x", b"y", b"\xc3\xa9", b"-"]


def _twins(patterns: list[tuple[bytes, int, int]]) -> tuple[ScannerProtocol, ScannerProtocol]:
    return build_scanner(patterns, "hyperscan"), _scanner_py.Scanner(patterns)


_MASKED = [(e, f, 1 << (i % 2)) for i, (e, f) in enumerate(BOUNDARY_PATTERNS)]
_SCANNERS = _twins(_MASKED)


@pytest.mark.parametrize(
    ("expression", "sealed"),
    [
        (rb"\Aab\z", rb"\xffab\xfe"),
        (rb"(?:\A|[^a-z])union", rb"(?:\xff|[^a-z\xfe\xff])union"),
        (rb"[^\w:-]", rb"[^\w:\-\xfe\xff]"),
        (rb"[^]a]", rb"[^\]a\xfe\xff]"),
        (rb"[\x80-\xff]", rb"[\x80-\xfd]"),
        (rb"x\S\W\D", rb"x[^\s\xfe\xff][^\w\xfe\xff][^\d\xfe\xff]"),
        (rb"a.b", rb"a[^\n\xfe\xff]b"),
        (rb"(a|b){2,3}\z", rb"(?:a|b){2,3}\xfe"),
        (rb"\$\{[^}]{0,9}\}", rb"\$\{[^}\xfe\xff]{0,9}\}"),
        (rb"a{,2}", None),  # `{,2}`: a quantifier to some engines, text to others
        (rb"^a", None),
        (rb"a$", None),
        (rb"(?i)a", None),
        (rb"a\Z", None),
        (rb"x\Ay", None),  # \A after something consumed
        (rb"\b\Ay", None),  # \b before the frame byte would read the frame
        (rb"x\zy", None),
        (rb"(?:\Ax)+", None),  # a repeated \A is no longer first
        (rb"(?:x\z)*", None),
        (rb"\A?x", None),
        (rb"a\xff", None),
        (rb"[\xfe]", None),
        (rb"[\S]", None),
        (rb"(a)\1", None),
        (rb"\pL", None),
        (rb"(*UTF8)a", None),
    ],
)
def test_seal(expression: bytes, sealed: bytes | None) -> None:
    assert seal(expression) == sealed


def test_seal_keeps_dot_all() -> None:
    assert seal(rb"a.b", dotall=True) == rb"a[^\xfe\xff]b"


def test_every_built_in_pattern_is_sealed() -> None:
    # A built-in pattern that cannot be sealed is searched one value at a time, which costs
    # the compiled engine most of its speed: rewrite the pattern instead.
    engine = Engine(default_policy(), implementation="re2")
    unsealed = [
        engine._entries[i].rule
        for i, (expression, flags, _) in enumerate(engine.patterns)
        if seal(expression, dotall=bool(flags & DOTALL)) is None
    ]
    assert unsealed == []


def test_boundaries_agree_with_the_twin() -> None:
    patterns = [(e, f, ALL) for e, f in BOUNDARY_PATTERNS]
    values = [b"ab", b"cd", b"b", b"c", b"", b"b-c", b"=", b"  ", b"x", b"yab", b"\xc3\xa9b"]
    values += [b"b", b"\xc3", b"\xa9"]  # a UTF-8 sequence split over two values
    hs, re2 = _twins(patterns)
    hits = hs.scan(values, [1] * len(values))
    assert hits == re2.scan(values, [1] * len(values))
    assert len(hits) > 20


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(TOKENS), max_size=6).map(b"".join), min_size=1, max_size=12),
    st.lists(st.integers(0, 3), min_size=12, max_size=12),
)
def test_joined_values_agree_with_the_twin(values: list[bytes], bits: list[int]) -> None:
    hs, re2 = _SCANNERS
    value_bits = bits[: len(values)]
    assert hs.scan(values, value_bits) == re2.scan(values, value_bits)


def test_value_with_a_frame_byte_is_searched_by_re2() -> None:
    patterns = [(rb"\Aab", 0, ALL), (rb"b[^a]", 0, ALL), (rb"b\xff", 0, ALL)]
    values = [b"ab\xff", b"\xfeab", b"ab"]
    hs, re2 = _twins(patterns)
    expected = [(0, 0), (0, 2), (1, 0), (2, 0)]
    assert hs.scan(values, [1, 1, 1]) == re2.scan(values, [1, 1, 1]) == expected


def test_compiled_scanner_reports_values_it_cannot_join() -> None:
    joined = [(seal(rb"\Aab") or b"", _scanner_c.JOINED, ALL)]
    scanner = _scanner_c.Scanner(joined)
    skipped: list[int] = []
    assert scanner.scan([b"ab", b"\xffab", b"ab\xfe"], [1, 1, 1], skipped) == [(0, 0)]
    assert skipped == [1, 2]
    with pytest.raises(ValueError, match="frame byte"):
        scanner.scan([b"\xffab"], [1])
    # A value no joined pattern selects is not skipped: nothing had to search it.
    assert scanner.scan([b"\xffab"], [0], skipped) == []
    assert skipped == [1, 2]


def test_a_pattern_matching_many_values_is_reported_once_per_value() -> None:
    scanner = _scanner_c.Scanner([(seal(rb"a+") or b"", _scanner_c.JOINED, ALL)])
    values = [b"aaa", b"b", b"aa", b"a"]
    assert scanner.scan(values, [1] * 4) == [(0, 0), (0, 2), (0, 3)]


def test_groups_change_no_result() -> None:
    patterns = [(e, f, 1 << (i % 3)) for i, (e, f) in enumerate(BOUNDARY_PATTERNS)]
    values = [b"ab", b"cd", b"b-c", b"x", b"", b"=ab"]
    bits = [1, 2, 4, 3, 7, 6]
    together = build_scanner(patterns, "hyperscan")
    apart = build_scanner(patterns, "hyperscan", [i % 4 for i in range(len(patterns))])
    assert together.scan(values, bits) == apart.scan(values, bits)
    assert together.scan(values, bits) == _scanner_py.Scanner(patterns).scan(values, bits)


def test_each_group_is_a_database_of_its_own() -> None:
    patterns = [(rb"ab", _scanner_c.JOINED, 1), (rb"cd", _scanner_c.JOINED, 2), (rb"^e", 0, 4)]
    scanner = _scanner_c.Scanner(patterns, [0, 1, 0])
    assert len(scanner.serialize()) == 3  # (0, joined), (0, one value at a time), (1, joined)
    loaded = _scanner_c.Scanner(patterns, [0, 1, 0], serialized=scanner.serialize(), rejected=[])
    values = [b"ab", b"cd", b"e"]
    assert loaded.scan(values, [1, 2, 4]) == scanner.scan(values, [1, 2, 4])
    assert scanner.scan(values, [1, 2, 4]) == [(0, 0), (1, 1), (2, 2)]
    assert scanner.scan(values, [2, 1, 4]) == [(2, 2)]
    with pytest.raises(ValueError, match="groups"):
        _scanner_c.Scanner(patterns, [0])
    with pytest.raises(ValueError, match="serialized"):
        _scanner_c.Scanner(patterns, [0, 1, 0], serialized=[None], rejected=[])
