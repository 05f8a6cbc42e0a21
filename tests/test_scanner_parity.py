"""The Hyperscan extension and its RE2 twin report the same (pattern, value) hits.

Both twins are imported directly: the compiled one must be built (CI installs Hyperscan), so a
failed build fails these tests instead of skipping them.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock_filters import _scanner_c, _scanner_py
from airlock_filters._scanner_py import CASELESS, DOTALL

ALL = 0xFFFFFFFF

# Chosen to stay clear of the documented engine differences (see KNOWN_DIFFERENCES): no `$`,
# `\Z`, `\s` or `\v`, and caseless matching only of ASCII letters.
PATTERNS: list[tuple[bytes, int]] = [
    (rb"union[ \t\r\n]+select", CASELESS),
    (rb"<script\b", CASELESS),
    (rb"\bon[a-z]+=", CASELESS),
    (rb"(?i)select\W+from", 0),
    (rb"\A\d{3,5}\z", 0),
    (rb"\Aadmin", 0),
    (rb"passwd\z", 0),
    (rb"/\*.*\*/", 0),
    (rb"/\*.*\*/", DOTALL),
    (rb"(?s)a.{0,6}b", 0),
    (rb"a.{0,6}b", 0),
    (rb"[^\x00-\x7f]{2}", 0),
    (rb"\x00", 0),
    (rb"\xff\xfe", 0),
    (rb"[\x80-\xff]+\x00", 0),
    (rb"(?:etc|proc)/(?:passwd|self)", 0),
    (rb"\.\./", 0),
    (rb"(a|b)+c{2,}", 0),
    (rb"(?:ab){2,3}x", CASELESS),
    (rb"\(\(\(", 0),
    (rb"^[A-Z]", 0),
    (rb"^[A-Z]", CASELESS),
    (rb"[[:xdigit:]]{8}", 0),
    (rb"\W{3}", 0),
    (rb"x[^a-z]y", CASELESS),
    (rb"\d+\.\d+", 0),
    (rb"\b0x[0-9a-f]+\b", CASELESS),
    (rb"\Bload", 0),
    (rb"'[ ]*or[ ]*'", 0),
]

# Values built from these make most patterns above match somewhere, and miss narrowly elsewhere.
TOKENS: list[bytes] = [
    b"union",
    b"UNION",
    b"select",
    b"SeLeCt",
    b"from",
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"/*",
    b"*/",
    b"<script",
    b"<SCRIPT>",
    b"on",
    b"load=",
    b"onLoad=",
    b"../",
    b"etc/",
    b"passwd",
    b"admin",
    b"(",
    b"((",
    b"'",
    b"or",
    b"=",
    b"\x00",
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xe9",
    b"a",
    b"A",
    b"b",
    b"B",
    b"c",
    b"x",
    b"y",
    b"0x1F",
    b"1",
    b"12",
    b"345",
    b".",
    b"deadBEEF",
]

VALUES: list[bytes] = [
    b"",
    b"hello world",
    b"1 UNION   SELECT * from users",
    b"union\x0bselect",
    b"<ScRiPt>alert(1)</script>",
    b"<img src=x onerror=alert(1)>",
    b"select\n\tfrom",
    b"1234",
    b"123",
    b"12",
    b"123456",
    b"1234\n",
    b"admin' or '1'='1",
    b"xadmin",
    b"/etc/passwd",
    b"/etc/passwd\n",
    b"/* comment */",
    b"/* multi\nline */",
    b"a\nb",
    b"a123456b",
    b"a1234567b",
    b"\xc3\xa9t\xc3\xa9",
    b"\x00",
    b"\x80\x81\x00",
    b"\xff\xfe\xfd",
    b"../../boot.ini",
    b"abababx",
    b"ABABX",
    b"aabbcc",
    b"((( ",
    b"Zebra",
    b"zebra",
    b"cafeBABE",
    b"x-y",
    b"xAy",
    b"3.14",
    b"0x1f",
    b"a0x1f",
    b"preload",
    b"load",
    bytes(range(256)),
]


def _both(
    patterns: list[tuple[bytes, int, int]],
) -> tuple[_scanner_c.Scanner, _scanner_py.Scanner]:
    return _scanner_c.Scanner(patterns), _scanner_py.Scanner(patterns)


def _assert_same(
    patterns: list[tuple[bytes, int, int]], values: list[bytes], bits: list[int]
) -> list[tuple[int, int]]:
    hs, re2 = _both(patterns)
    assert hs.rejected == []
    hits = hs.scan(values, bits)
    assert hits == re2.scan(values, bits)
    return hits


def test_constants_match_the_twin() -> None:
    assert (_scanner_c.CASELESS, _scanner_c.DOTALL) == (CASELESS, DOTALL)


@pytest.mark.parametrize(("expression", "flags"), PATTERNS, ids=lambda p: repr(p))
def test_each_pattern_agrees_on_every_value(expression: bytes, flags: int) -> None:
    hits = _assert_same([(expression, flags, ALL)], VALUES, [1] * len(VALUES))
    # A pattern set that never matches would make parity trivial.
    assert hits


def test_all_patterns_together_with_masks() -> None:
    patterns = [(e, f, 1 << (i % 5) | 1 << (i % 3)) for i, (e, f) in enumerate(PATTERNS)]
    bits = [1 << (i % 6) for i in range(len(VALUES))]
    hits = _assert_same(patterns, VALUES, bits)
    assert len(hits) > 20


@pytest.mark.parametrize(
    ("expression", "flags", "value", "matches"),
    [
        (rb"select", CASELESS, b"SeLeCt", True),
        (rb"select", 0, b"SeLeCt", False),
        (rb"(?i)select", 0, b"SELECT", True),
        (rb"\Aabc\z", 0, b"abc", True),
        (rb"\Aabc\z", 0, b"xabc", False),
        (rb"\Aabc\z", 0, b"abc\n", False),
        (rb"^abc", 0, b"x\nabc", False),
        (rb"(?m)^abc", 0, b"x\nabc", True),
        (rb"a.c", 0, b"a\nc", False),
        (rb"a.c", DOTALL, b"a\nc", True),
        (rb"(?s)a.c", 0, b"a\nc", True),
        (rb"a.c", 0, b"a\xffc", True),
        (rb"a.c", 0, b"a\x00c", True),
        (rb"\x00\xff", 0, b"-\x00\xff-", True),
        (rb"[\x00-\x08]", 0, b"\x07", True),
        (rb"[^\x00]", 0, b"\x00\x00", False),
        (rb"\w+", 0, b"\xe9\xe8", False),
        (rb"\bfoo\b", 0, b"\xe9foo\xe9", True),
        (rb"\bfoo\b", 0, b"_foo", False),
        (rb"cat|dog|bird", 0, b"hotdog", True),
        (rb"(?:ab){3}", 0, b"ababab", True),
        (rb"(?:ab){3}", 0, b"abab", False),
        (rb"x{2,4}y", 0, b"xxxxxy", True),
        (rb"a[bc]+d", CASELESS, b"ABCBD", True),
        (rb"[[:upper:]]{2}", 0, b"aBCd", True),
        (rb"[[:upper:]]{2}", CASELESS, b"ab", True),
        (rb"\d{2}-\d{2}", 0, b"12-34", True),
        (rb"\D\S\W", 0, b"a b", False),
        (rb"\b", 0, b"", False),
        (rb"\B", 0, b"", True),
        (rb"\A", 0, b"", True),
    ],
)
def test_case(expression: bytes, flags: int, value: bytes, matches: bool) -> None:
    expected = [(0, 0)] if matches else []
    hs, re2 = _both([(expression, flags, ALL)])
    assert hs.rejected == []
    assert hs.scan([value], [1]) == expected
    assert re2.scan([value], [1]) == expected


# Each (expression, flags, value) is found by exactly one engine. Policy authors have to avoid
# these constructs, or the verdict would depend on whether the extension is installed.
KNOWN_DIFFERENCES = [
    # Hyperscan follows PCRE: `$` and `\Z` also match before a final newline. RE2's `$` only
    # matches at the very end, and pyre2 reads `\Z` as `\z`.
    pytest.param(rb"passwd$", 0, b"/etc/passwd\n", "hyperscan", id="dollar-before-newline"),
    pytest.param(rb"passwd\Z", 0, b"/etc/passwd\n", "hyperscan", id="Z-before-newline"),
    # `\s` includes the vertical tab (0x0b) in Hyperscan (as in PCRE2), not in RE2.
    pytest.param(rb"union\s+select", 0, b"union\x0bselect", "hyperscan", id="s-vertical-tab"),
    # `\v` is any vertical whitespace in Hyperscan, only the vertical tab in RE2.
    pytest.param(rb"a\vb", 0, b"a\nb", "hyperscan", id="v-newline"),
    # pyre2 compiles bytes patterns as Latin-1, and RE2 then folds case beyond ASCII.
    pytest.param(rb"caf\xe9", CASELESS, b"CAF\xc9", "re2", id="latin1-case-folding"),
]


@pytest.mark.parametrize(("expression", "flags", "value", "winner"), KNOWN_DIFFERENCES)
def test_known_differences(expression: bytes, flags: int, value: bytes, winner: str) -> None:
    hs, re2 = _both([(expression, flags, ALL)])
    assert hs.rejected == []
    assert (hs.scan([value], [1]) == [(0, 0)]) == (winner == "hyperscan")
    assert (re2.scan([value], [1]) == [(0, 0)]) == (winner == "re2")


def test_masks_select_values() -> None:
    patterns = [(b"foo", 0, 0b01), (b"foo", 0, 0b10), (b"foo", 0, 0b11), (b"foo", 0, 0)]
    values = [b"foo", b"foo", b"foo", b"xfoo", b"bar"]
    bits = [0b01, 0b10, 0b100, 0b11, 0b11]
    expected = [(0, 0), (0, 3), (1, 1), (1, 3), (2, 0), (2, 1), (2, 3)]
    hs, re2 = _both(patterns)
    assert hs.scan(values, bits) == expected
    assert re2.scan(values, bits) == expected


def test_bits_beyond_32_and_negative_bits_behave_like_python_ints() -> None:
    patterns = [(b"foo", 0, 0b1), (b"foo", 0, 1 << 31)]
    values = [b"foo"] * 4
    bits = [1 << 40, (1 << 40) | 1, -1, -(1 << 31)]
    hs, re2 = _both(patterns)
    assert hs.scan(values, bits) == re2.scan(values, bits) == [(0, 1), (0, 2), (1, 2), (1, 3)]


def test_each_pair_reported_once_and_sorted() -> None:
    patterns = [(b"a", 0, ALL), (b"[ab]", 0, ALL), (b"b+", CASELESS, ALL)]
    values = [b"abababab" * 100, b"B" * 1000, b"", b"ba" * 50]
    hs, re2 = _both(patterns)
    hits = hs.scan(values, [1] * 4)
    assert hits == [(0, 0), (0, 3), (1, 0), (1, 3), (2, 0), (2, 1), (2, 3)]
    assert hits == re2.scan(values, [1] * 4)


def test_empty_pattern_list() -> None:
    hs = _scanner_c.Scanner([])
    assert len(hs) == 0
    assert hs.database_size() == 0
    assert hs.rejected == []
    assert hs.scan([b"anything", b""], [1, ALL]) == []
    assert hs.scan([], []) == []


def test_empty_value_list() -> None:
    hs, re2 = _both([(b"foo", 0, ALL)])
    assert hs.scan([], []) == re2.scan([], []) == []


def test_length_and_database_size() -> None:
    hs = _scanner_c.Scanner([(e, f, ALL) for e, f in PATTERNS])
    assert len(hs) == len(PATTERNS)
    assert hs.database_size() > 0


def test_one_mebibyte_value() -> None:
    patterns = [
        (rb"\(\(\(", 0, ALL),
        (rb"\A\(+\z", 0, ALL),
        (rb"\)", 0, ALL),
        (rb"(?s)\(.*\(", 0, ALL),
        (rb"\A(?:\(\(){3}\)", 0, ALL),
        (rb"\(\z", 0, ALL),
    ]
    value = b"(" * (1 << 20)
    hits = _assert_same(patterns, [value, b"(("], [1, 1])
    assert hits == [(0, 0), (1, 0), (1, 1), (3, 0), (3, 1), (5, 0), (5, 1)]


def test_values_are_not_c_strings() -> None:
    patterns = [(rb"\x00\x01", 0, ALL), (rb"\xfe\xff\z", 0, ALL), (rb"\A\x00", 0, ALL)]
    hits = _assert_same(patterns, [bytes(range(256)), b"\x00" * 10], [1, 1])
    assert hits == [(0, 0), (1, 0), (2, 0), (2, 1)]


def test_values_and_bits_must_have_the_same_length() -> None:
    hs, re2 = _both([(b"foo", 0, ALL)])
    with pytest.raises(ValueError):
        hs.scan([b"foo"], [1, 1])
    with pytest.raises(ValueError):
        re2.scan([b"foo"], [1, 1])


def test_values_must_be_bytes() -> None:
    hs = _scanner_c.Scanner([(b"foo", 0, ALL)])
    with pytest.raises(TypeError):
        hs.scan(["foo"], [1])  # type: ignore[list-item]


def test_masks_must_fit_32_bits() -> None:
    with pytest.raises(OverflowError):
        _scanner_c.Scanner([(b"foo", 0, 1 << 32)])
    with pytest.raises(OverflowError):
        _scanner_c.Scanner([(b"foo", 0, -1)])


def test_cannot_be_initialised_twice() -> None:
    hs = _scanner_c.Scanner([(b"foo", 0, ALL)])
    with pytest.raises(TypeError):
        hs.__init__([(b"bar", 0, ALL)])  # type: ignore[misc]
    assert hs.scan([b"foo", b"bar"], [1, 1]) == [(0, 0)]


# Patterns RE2 takes but Hyperscan refuses, with a fragment of the reason.
REFUSED_BY_HYPERSCAN = [
    (rb"(?U)a+b", "Unrecognised character after (?"),
    (rb"x*", "matches empty buffer"),
    (b"a\x00b", "NUL byte"),
    (rb"\p{Greek}", "can never match"),
    (rb"[[.a.]]", "collating element"),
]


@pytest.mark.parametrize(("expression", "reason"), REFUSED_BY_HYPERSCAN, ids=repr)
def test_refused_pattern_is_left_to_re2(expression: bytes, reason: str) -> None:
    _scanner_py.compile_pattern(expression, 0)
    patterns = [(b"abc", 0, ALL), (expression, 0, ALL), (b"xyz", CASELESS, 0b10)]
    hs = _scanner_c.Scanner(patterns)
    assert hs.rejected == [1]
    assert reason in hs.rejected_reasons[1]
    assert hs.scan([b"abc", b"XYZ", b"xyz"], [1, 1, 2]) == [(0, 0), (2, 2)]


def test_several_refusals_keep_indices() -> None:
    refused = [e for e, _ in REFUSED_BY_HYPERSCAN]
    patterns: list[tuple[bytes, int, int]] = []
    for i, expression in enumerate(refused):
        patterns.append((expression, 0, ALL))
        patterns.append((b"ok%d" % i, 0, ALL))
    hs = _scanner_c.Scanner(patterns)
    assert hs.rejected == list(range(0, len(patterns), 2))
    assert sorted(hs.rejected_reasons) == hs.rejected
    values = [b"ok%d" % i for i in range(len(refused))]
    assert hs.scan(values, [1] * len(values)) == [(2 * i + 1, i) for i in range(len(refused))]


def test_refusal_naming_no_expression_is_traced_to_its_pattern() -> None:
    # Hyperscan reports this one without an expression index; RE2 refuses it too.
    patterns = [(b"abc", 0, ALL), (rb"((a{100}){100}){10}", 0, ALL), (b"xyz", 0, ALL)]
    hs = _scanner_c.Scanner(patterns)
    assert hs.rejected == [1]
    assert "Resource limit exceeded" in hs.rejected_reasons[1]
    assert hs.scan([b"xyz", b"abc"], [1, 1]) == [(0, 1), (2, 0)]


def test_all_patterns_refused() -> None:
    hs = _scanner_c.Scanner([(rb"x*", 0, ALL), (rb"(?U)y", 0, ALL)])
    assert hs.rejected == [0, 1]
    assert hs.database_size() == 0
    assert hs.scan([b"xy"], [1]) == []


def test_utf8_mode_verbs_are_refused() -> None:
    # Hyperscan would accept these and then scan raw bytes as UTF-8 (undefined behaviour).
    hs = _scanner_c.Scanner([(rb"(*UTF8)a", 0, ALL), (rb"(*UCP)\w", 0, ALL)])
    assert hs.rejected == [0, 1]
    assert "(*UTF8)" in hs.rejected_reasons[0]


def test_threads_share_one_scanner() -> None:
    patterns = [(e, f, 1 << (i % 4)) for i, (e, f) in enumerate(PATTERNS)]
    hs, re2 = _both(patterns)
    workloads = []
    for t in range(8):
        values = [VALUES[(t * 7 + i) % len(VALUES)] * (1 + t % 3) for i in range(60)]
        bits = [1 << ((t + i) % 5) for i in range(60)]
        workloads.append((values, bits, re2.scan(values, bits)))
    start = threading.Barrier(len(workloads))
    failures: list[str] = []

    def run(values: list[bytes], bits: list[int], expected: list[tuple[int, int]]) -> None:
        start.wait()
        for _ in range(200):
            got = hs.scan(values, bits)
            if got != expected:
                failures.append(f"{got!r} != {expected!r}")
                return

    threads = [threading.Thread(target=run, args=w) for w in workloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


values_strategy = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=12).map(b"".join),
    st.binary(max_size=24),
)
masks_strategy = st.one_of(st.integers(0, 15), st.integers(0, ALL))
bits_strategy = st.one_of(st.integers(0, 15), st.integers(-(1 << 40), 1 << 40))


@settings(max_examples=200, deadline=None)
@given(
    chosen=st.lists(st.tuples(st.sampled_from(PATTERNS), masks_strategy), max_size=10),
    inputs=st.lists(st.tuples(values_strategy, bits_strategy), max_size=12),
)
def test_twins_agree(
    chosen: list[tuple[tuple[bytes, int], int]], inputs: list[tuple[bytes, int]]
) -> None:
    patterns = [(expression, flags, mask) for (expression, flags), mask in chosen]
    values = [value for value, _ in inputs]
    bits = [b for _, b in inputs]
    hs, re2 = _both(patterns)
    hits = hs.scan(values, bits)
    assert hits == sorted(set(hits))
    assert hits == re2.scan(values, bits)
