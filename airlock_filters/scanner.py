"""Selects the scanner: the Hyperscan extension, or its pyre2 twin.

`AIRLOCK_FILTERS_NO_EXTENSIONS=1` forces the pure-Python twin. Patterns Hyperscan refuses are
scanned by RE2 beside it, with a warning naming them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Protocol

from airlock_filters import _scanner_py

log = logging.getLogger(__name__)

CASELESS = _scanner_py.CASELESS
DOTALL = _scanner_py.DOTALL


class ScannerProtocol(Protocol):
    def __len__(self) -> int: ...

    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]: ...


def _load_extension() -> type | None:
    if os.environ.get("AIRLOCK_FILTERS_NO_EXTENSIONS"):
        return None
    try:
        from airlock_filters import _scanner_c
    except ImportError as exc:
        log.warning("Hyperscan scanner unavailable (%s); using the RE2 twin", exc)
        return None
    return _scanner_c.Scanner


_COMPILED = _load_extension()
IMPLEMENTATION = "hyperscan" if _COMPILED is not None else "re2"


class HybridScanner:
    """Hyperscan for what it takes, RE2 for the rest; results as if one scanner."""

    def __init__(self, patterns: Sequence[tuple[bytes, int, int]], compiled: type) -> None:
        self._hs = compiled(patterns)
        self._fallback_ids = list(self._hs.rejected)
        for index in self._fallback_ids:
            reason = getattr(self._hs, "rejected_reasons", {}).get(index, "rejected")
            log.warning(
                "pattern %d falls back to RE2 (Hyperscan: %s): %r",
                index,
                reason,
                patterns[index][0],
            )
        self._re2 = _scanner_py.Scanner([patterns[i] for i in self._fallback_ids])
        self._size = len(patterns)

    def __len__(self) -> int:
        return self._size

    def database_size(self) -> int:
        return int(self._hs.database_size())

    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]:
        hits = self._hs.scan(values, bits)
        if self._fallback_ids:
            hits.extend((self._fallback_ids[p], v) for p, v in self._re2.scan(values, bits))
            hits.sort()
        return hits


def build_scanner(
    patterns: Sequence[tuple[bytes, int, int]], implementation: str | None = None
) -> ScannerProtocol:
    """A scanner over (expression, flags, mask) patterns; `implementation` forces one."""
    implementation = implementation or IMPLEMENTATION
    if implementation == "re2":
        return _scanner_py.Scanner(patterns)
    if _COMPILED is None:
        raise RuntimeError("the Hyperscan scanner extension is not available")
    return HybridScanner(patterns, _COMPILED)
