"""Type stub for the Hyperscan scanner extension built from `_scanner_c.pyx`."""

from collections.abc import Sequence
from typing import Final

CASELESS: Final = 1
DOTALL: Final = 2
# The expression was sealed by `airlock_filters._seal`: it is searched in all values at once,
# joined as ``\xff value \xfe ...``.
JOINED: Final = 4
HYPERSCAN_VERSION: Final[str]

def valid_platform() -> bool:
    """Whether this CPU can run Hyperscan (x86 builds need SSE4.2 or better)."""

# In `serialized`: this database is not cached, compile it.
COMPILE: Final[object]

class Scanner:
    """Scans byte values against a fixed list of (expression, flags, mask) patterns.

    Pattern i is searched in value v when ``mask_i & bits_v`` is non-zero. Masks must fit in
    32 bits. Patterns Hyperscan refuses are listed in `rejected` (ascending) and never
    reported by `scan`; `rejected_reasons` maps each of them to the reason. Patterns go into
    one database per (group, JOINED flag); a value is scanned only by the databases whose
    patterns' masks meet its bits.
    """

    rejected: list[int]
    rejected_reasons: dict[int, str]

    def __init__(
        self,
        patterns: Sequence[tuple[bytes, int, int]],
        groups: Sequence[int] | None = None,
        serialized: list[bytes | object | None] | None = None,
        rejected: Sequence[int] | None = None,
    ) -> None: ...
    def serialize(self) -> list[bytes | None]:
        """The compiled databases, one per group (None for a group without one)."""
    def __len__(self) -> int: ...
    def scan(
        self, values: Sequence[bytes], bits: Sequence[int], skipped: list[int] | None = None
    ) -> list[tuple[int, int]]:
        """Return (pattern index, value index) for every match, sorted.

        A value holding a frame byte (0xFE or 0xFF, never in UTF-8) is not searched by the
        JOINED patterns: its index goes to `skipped`, or without that list, ValueError.
        """
    def database_size(self) -> int:
        """Size in bytes of the compiled Hyperscan databases, 0 when there is none."""
