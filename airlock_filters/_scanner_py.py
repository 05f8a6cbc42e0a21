"""Pure-Python twin of the multi-pattern scanner, on RE2 (pyre2).

Same interface and same results as the Hyperscan extension `_scanner_c`: every pattern is
searched in every value whose slot bit is set in the pattern's mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2

CASELESS = 1
DOTALL = 2

# pyre2 silently falls back to Python's `re` for patterns RE2 cannot take; a policy pattern
# that only `re` understands would make the two engines disagree, so reject it instead.
re2.set_fallback_notification(re2.FALLBACK_EXCEPTION)


def compile_pattern(expression: bytes, flags: int) -> re2.Pattern:
    """Compile one pattern with RE2; raises `re2.error` when RE2 cannot take it."""
    re_flags = 0
    if flags & CASELESS:
        re_flags |= re2.IGNORECASE
    if flags & DOTALL:
        re_flags |= re2.DOTALL
    try:
        return re2.compile(expression, re_flags)
    except re2.BackreferencesException as exc:
        raise re2.error(str(exc)) from exc
    except re2.CharClassProblemException as exc:
        raise re2.error(str(exc)) from exc


class Scanner:
    """Scans byte values against a fixed list of (expression, flags, mask) patterns.

    Pattern i is searched in value v when ``mask_i & bits_v`` is non-zero.
    """

    def __init__(self, patterns: Sequence[tuple[bytes, int, int]]) -> None:
        self._compiled = [compile_pattern(expr, flags) for expr, flags, _ in patterns]
        self._masks = [mask for _, _, mask in patterns]
        self.rejected: list[int] = []

    def __len__(self) -> int:
        return len(self._compiled)

    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]:
        """Return (pattern index, value index) for every match, sorted."""
        hits: list[tuple[int, int]] = []
        for value_index, (value, bit) in enumerate(zip(values, bits, strict=True)):
            for pattern_index, pattern in enumerate(self._compiled):
                if self._masks[pattern_index] & bit and pattern.search(value) is not None:
                    hits.append((pattern_index, value_index))
        hits.sort()
        return hits
