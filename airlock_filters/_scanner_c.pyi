"""Type stub for the Hyperscan scanner extension built from `_scanner_c.pyx`."""

from collections.abc import Sequence
from typing import Final

CASELESS: Final = 1
DOTALL: Final = 2
HYPERSCAN_VERSION: Final[str]

class Scanner:
    """Scans byte values against a fixed list of (expression, flags, mask) patterns.

    Pattern i is searched in value v when ``mask_i & bits_v`` is non-zero. Masks must fit in
    32 bits. Patterns Hyperscan refuses are listed in `rejected` (ascending) and never
    reported by `scan`; `rejected_reasons` maps each of them to the reason.
    """

    rejected: list[int]
    rejected_reasons: dict[int, str]

    def __init__(
        self,
        patterns: Sequence[tuple[bytes, int, int]],
        serialized: bytes | None = None,
        rejected: Sequence[int] | None = None,
    ) -> None: ...
    def serialize(self) -> bytes | None:
        """The compiled database as bytes, to skip compiling the same patterns again."""
    def __len__(self) -> int: ...
    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]:
        """Return (pattern index, value index) for every match, sorted."""
    def database_size(self) -> int:
        """Size in bytes of the compiled Hyperscan database, 0 when there is none."""
