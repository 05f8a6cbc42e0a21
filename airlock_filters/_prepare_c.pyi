"""Type stub for the compiled per-field hot loops built from `_prepare_c.pyx`."""

from typing import Any

from airlock_filters.request import Field

def scan_input(
    fields: list[Field], markup_kinds: int, with_owners: bool = True
) -> tuple[list[bytes], list[int], list[list[tuple[int, int]]] | None]:
    """The distinct byte strings to scan, their combined slot bits, and for each the
    (field index, slot bits) it stands for, unless not `with_owners` (see the pure twin,
    `_prepare_py`)."""

def json_document_fields(
    document: Any,
    key_length: int,
    value_length: int,
    element_count: int,
    nesting_depth: int,
    exempt_patterns: list[str],
) -> list[Field]:
    """The fields of a document parsed with `Pairs` for objects (see the pure twin)."""

def fields_by_kind(fields: list[Field]) -> dict[int, list[Field]]:
    """The fields of each kind present, in request order."""

def split_names(fields: list[Field]) -> tuple[list[Field], list[Field]]:
    """The fields that carry a name, and those that carry a value, in request order."""
