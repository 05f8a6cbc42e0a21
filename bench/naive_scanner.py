"""The naive baseline for bench/speed.py: Python's `re`, one pattern at a time, one value at a time.

`NaiveReScanner` has the scanner interface of `airlock_filters.scanner` (`scan(values, bits)`
returning sorted (pattern index, value index) pairs) and does the same work as the pyre2 twin,
only with the standard library's backtracking engine: it is what a straightforward WAF written
in Python would do, and the yardstick for the compiled scanner.

Policy patterns are written in the syntax Hyperscan and RE2 share. The few places where Python's
`re` reads that syntax differently are translated, so that the baseline finds what RE2 finds
(over bytes, pyre2 works in Latin-1, byte by byte, as `re` does):
- `\\z` (end of text) is `\\Z` in Python;
- `$` without multi-line mode is the very end of the text in RE2, while Python's `$` also
  matches before a final newline;
- `\\s` is [\\t\\n\\f\\r ] in RE2, while Python's also takes the vertical tab;
- POSIX classes (`[[:alpha:]]`) and `\\x{HH}` escapes are unknown to Python.
Patterns Python still cannot compile are skipped and listed in `skipped`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

CASELESS = 1  # as airlock_filters.scanner.CASELESS
DOTALL = 2  # as airlock_filters.scanner.DOTALL

_RE2_SPACE = rb"\t\n\f\r "
_POSIX_CLASSES = {
    b"alnum": rb"0-9A-Za-z",
    b"alpha": rb"A-Za-z",
    b"ascii": rb"\x00-\x7f",
    b"blank": rb"\t ",
    b"cntrl": rb"\x00-\x1f\x7f",
    b"digit": rb"0-9",
    b"graph": rb"!-~",
    b"lower": rb"a-z",
    b"print": rb" -~",
    b"punct": rb"!-/:-@\[-`{-~",
    b"space": rb"\t\n\v\f\r ",
    b"upper": rb"A-Z",
    b"word": rb"0-9A-Za-z_",
    b"xdigit": rb"0-9A-Fa-f",
}
_POSIX_RE = re.compile(rb"\[:(\^?)([a-z]+):\]")
_HEX_BRACED_RE = re.compile(rb"\\x\{([0-9A-Fa-f]{1,6})\}")
# An inline flag group that turns on multi-line mode, e.g. `(?m)` or `(?im:`.
_MULTILINE_RE = re.compile(rb"\(\?[a-zA-Z]*m[a-zA-Z]*[:)]")


def to_python_re(expression: bytes) -> bytes:
    """Rewrite an RE2/Hyperscan expression so that Python's `re` matches the same bytes."""
    multiline = _MULTILINE_RE.search(expression) is not None
    out = bytearray()
    in_class = False
    i = 0
    while i < len(expression):
        char = expression[i : i + 1]
        if char == b"\\":
            escape, i = _escape(expression, i, in_class)
            out += escape
            continue
        if in_class:
            if char == b"[":
                posix = _POSIX_RE.match(expression, i)
                if posix is not None and posix.group(2) in _POSIX_CLASSES and not posix.group(1):
                    out += _POSIX_CLASSES[posix.group(2)]
                    i = posix.end()
                    continue
            elif char == b"]":
                in_class = False
            out += char
            i += 1
            continue
        if char == b"[":
            # A `]` (after an optional `^`) right at the start of a class is a literal.
            start = i + 1
            if expression[start : start + 1] == b"^":
                start += 1
            if expression[start : start + 1] == b"]":
                start += 1
            out += expression[i:start]
            in_class = True
            i = start
            continue
        out += rb"\Z" if char == b"$" and not multiline else char
        i += 1
    return bytes(out)


def _escape(expression: bytes, i: int, in_class: bool) -> tuple[bytes, int]:
    """Translate the escape sequence starting at `expression[i]` (a backslash)."""
    letter = expression[i + 1 : i + 2]
    if letter == b"z" and not in_class:
        return rb"\Z", i + 2
    if letter == b"s":
        return (_RE2_SPACE if in_class else b"[" + _RE2_SPACE + b"]"), i + 2
    if letter == b"S" and not in_class:
        return b"[^" + _RE2_SPACE + b"]", i + 2
    if letter == b"x":
        braced = _HEX_BRACED_RE.match(expression, i)
        if braced is not None and int(braced.group(1), 16) <= 0xFF:
            return b"\\x%02x" % int(braced.group(1), 16), braced.end()
    return expression[i : i + 2], i + 2


def compile_naive(expression: bytes, flags: int) -> re.Pattern[bytes]:
    """Compile one policy pattern with Python's `re`; raises `re.error` when it cannot."""
    re_flags = 0
    if flags & CASELESS:
        re_flags |= re.IGNORECASE
    if flags & DOTALL:
        re_flags |= re.DOTALL
    with warnings.catch_warnings():
        # "Possible nested set" and the like: the meaning is unchanged in this Python.
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(to_python_re(expression), re_flags)


class NaiveReScanner:
    """Scans byte values against (expression, flags, mask) patterns with Python's `re`.

    Pattern i is searched in value v when ``mask_i & bits_v`` is non-zero, exactly as in the
    scanners of `airlock_filters`; indices are those of the patterns given, skipped ones included.
    """

    def __init__(self, patterns: Sequence[tuple[bytes, int, int]]) -> None:
        self._size = len(patterns)
        self._compiled: list[tuple[int, re.Pattern[bytes], int]] = []
        self.skipped: list[int] = []
        self.skipped_reasons: dict[int, str] = {}
        for index, (expression, flags, mask) in enumerate(patterns):
            try:
                regex = compile_naive(expression, flags)
            except (re.error, OverflowError) as exc:
                self.skipped.append(index)
                self.skipped_reasons[index] = str(exc)
                continue
            self._compiled.append((index, regex, mask))

    def __len__(self) -> int:
        return self._size

    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]:
        """Return (pattern index, value index) for every match, sorted."""
        hits: list[tuple[int, int]] = []
        compiled = self._compiled
        for value_index, (value, bit) in enumerate(zip(values, bits, strict=True)):
            for pattern_index, regex, mask in compiled:
                if mask & bit and regex.search(value) is not None:
                    hits.append((pattern_index, value_index))
        hits.sort()
        return hits
