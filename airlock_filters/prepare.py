"""Selects the per-field hot loops (JSON fields, scan input): compiled twin or pure Python.

`AIRLOCK_FILTERS_NO_EXTENSIONS=1` forces the pure twin; so does a missing extension.
"""

from __future__ import annotations

import logging
import os

from airlock_filters import _prepare_py

log = logging.getLogger(__name__)

Pairs = _prepare_py.Pairs
scan_input = _prepare_py.scan_input
json_document_fields = _prepare_py.json_document_fields
fields_by_kind = _prepare_py.fields_by_kind
split_names = _prepare_py.split_names
IMPLEMENTATION = "python"

if not os.environ.get("AIRLOCK_FILTERS_NO_EXTENSIONS"):
    try:
        from airlock_filters import _prepare_c
    except ImportError as exc:
        log.warning("compiled field preparation unavailable (%s); using the Python twin", exc)
    else:
        scan_input = _prepare_c.scan_input
        json_document_fields = _prepare_c.json_document_fields
        fields_by_kind = _prepare_c.fields_by_kind
        split_names = _prepare_c.split_names
        IMPLEMENTATION = "compiled"

__all__ = [
    "IMPLEMENTATION",
    "Pairs",
    "fields_by_kind",
    "json_document_fields",
    "scan_input",
    "split_names",
]
