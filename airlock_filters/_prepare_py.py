"""Pure-Python twin of the per-field hot loops (compiled twin: `_prepare_c.pyx`).

- `json_document_fields` turns a parsed JSON document into fields, checking the JSON limits;
- `scan_input` turns the fields of a request into what the scanner takes: the distinct byte
  strings to scan, the slot bits of each, and which fields (with which slot bits) each stands
  for;
- `fields_by_kind` and `split_names` sort the fields for the structural checks.

Both run over every field of every request, so they are kept lean.
"""

from __future__ import annotations

import re
from typing import Any

from airlock_filters.errors import LimitExceeded
from airlock_filters.jsonpath import canonical_key, jsonpath_matches
from airlock_filters.normalize import html_decode, normalize
from airlock_filters.request import JSON, KINDS, MARKUP, NORM, RAW, Field, slot

# Characters some normalization step acts on; a value without any is its own normal form.
_PLAIN = re.compile(r"[%&\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]").search

# Per kind: the slot bits of its RAW, NORM and MARKUP forms.
SLOT_BITS = {kind: tuple(1 << slot(kind, v) for v in (RAW, NORM, MARKUP)) for kind in KINDS}

Owners = list[list[tuple[int, int]]]


def scan_input(
    fields: list[Field], markup_kinds: int, with_owners: bool = True
) -> tuple[list[bytes], list[int], Owners | None]:
    """The distinct byte strings to scan, their combined slot bits, and for each the
    (field index, slot bits) it stands for. Repeated values (JSON keys of a list of records,
    flags like `true`) are scanned once. `markup_kinds` has bit k set when some rule looks at
    the MARKUP form of fields of kind k.

    Without `with_owners`, the owners are not listed (None): most requests match nothing, and
    the same call with them gives the same values in the same order when one does."""
    index_of: dict[str, int] = {}
    values: list[bytes] = []
    bits: list[int] = []
    owners: Owners | None = [] if with_owners else None
    for index, fld in enumerate(fields):
        raw_bit, norm_bit, markup_bit = SLOT_BITS[fld.kind]
        value = fld.value
        if (not fld.encoded or fld.raw == value) and _PLAIN(value) is None:
            # Nothing to decode: every form is the value itself, scanned once.
            forms = [(value, (raw_bit if fld.encoded else 0) | norm_bit | markup_bit)]
        else:
            forms = field_forms(fld, markup_kinds)
        for text, mask in forms:
            at = index_of.get(text)
            if at is None:
                index_of[text] = len(values)
                values.append(text.encode("utf-8", "surrogatepass"))
                bits.append(mask)
                if owners is not None:
                    owners.append([(index, mask)])
            else:
                bits[at] |= mask
                if owners is not None:
                    owners[at].append((index, mask))
    return values, bits, owners


def field_forms(fld: Field, markup_kinds: int) -> list[tuple[str, int]]:
    """The raw, normalized and markup-decoded forms of a field that are not the same, each
    with the slot bits it stands for."""
    raw_bit, norm_bit, markup_bit = SLOT_BITS[fld.kind]
    norm = normalize(fld.value)
    forms = []
    if fld.encoded and fld.raw != norm:
        forms.append((fld.raw, raw_bit))
    elif fld.encoded:
        norm_bit |= raw_bit
    if markup_kinds & (1 << fld.kind):
        markup = html_decode(norm)
        if markup != norm:
            forms.append((markup, markup_bit))
        else:
            norm_bit |= markup_bit
    forms.append((norm, norm_bit))
    return forms


class Pairs(list[tuple[str, Any]]):
    """Marks an object's key/value pairs apart from an array of 2-element lists."""


def json_document_fields(
    document: Any,
    key_length: int,
    value_length: int,
    element_count: int,
    nesting_depth: int,
    exempt_patterns: list[str],
) -> list[Field]:
    """The fields of a document parsed with `Pairs` for objects: every key and every scalar,
    named by its JSON path. Raises LimitExceeded for a key or value longer than allowed (unless
    its path matches an exempt pattern), more elements than allowed, or deeper nesting."""
    walker = _JsonWalker(key_length, value_length, element_count, nesting_depth, exempt_patterns)
    if isinstance(document, list):  # objects are lists of pairs too
        walker.walk(document, "$", 0)
    else:
        walker.leaf(document, "$")
    return walker.fields


class _JsonWalker:
    def __init__(
        self,
        key_length: int,
        value_length: int,
        element_count: int,
        nesting_depth: int,
        exempt_patterns: list[str],
    ) -> None:
        self.key_length = key_length
        self.value_length = value_length
        self.element_count = element_count
        self.nesting_depth = nesting_depth
        self.exempt_patterns = exempt_patterns
        self.elements = 0
        self.fields: list[Field] = []

    def exempt(self, path: str) -> bool:
        return any(jsonpath_matches(p, path) for p in self.exempt_patterns)

    def walk(self, node: list[Any], path: str, depth: int) -> None:
        """Fields of a container; scalars are handled inline, as most nodes are leaves."""
        if depth >= self.nesting_depth:
            raise LimitExceeded(
                "json.nestingDepth", f"JSON nesting deeper than {self.nesting_depth}", path[:128]
            )
        self.elements += len(node)
        if self.elements > self.element_count:
            raise LimitExceeded(
                "json.elementCount", f"JSON document with more than {self.element_count} elements"
            )
        fields = self.fields
        if isinstance(node, Pairs):
            for key, value in node:
                child = canonical_key(path, key)
                if len(key) > self.key_length and not self.exempt(child):
                    raise LimitExceeded(
                        "json.keyLength", f"JSON key longer than {self.key_length}", child[:128]
                    )
                fields.append(Field(JSON, child, key, key, "Key", True, False))
                if isinstance(value, list):
                    self.walk(value, child, depth + 1)
                else:
                    self.leaf(value, child)
        else:
            for index, value in enumerate(node):
                child = f"{path}[{index}]"
                if isinstance(value, list):
                    self.walk(value, child, depth + 1)
                else:
                    self.leaf(value, child)

    def leaf(self, node: Any, path: str) -> None:
        if isinstance(node, str):
            text = node
        elif node is None:
            text = "null"
        elif node is True or node is False:
            text = "true" if node else "false"
        else:
            text = repr(node)
        if len(text) > self.value_length and not self.exempt(path):
            raise LimitExceeded(
                "json.valueLength", f"JSON value longer than {self.value_length}", path[:128]
            )
        self.fields.append(Field(JSON, path, text, text, "JSON", False, False))


def fields_by_kind(fields: list[Field]) -> dict[int, list[Field]]:
    """The fields of each kind present, in request order."""
    by_kind: dict[int, list[Field]] = {}
    for fld in fields:
        by_kind.setdefault(fld.kind, []).append(fld)
    return by_kind


def split_names(fields: list[Field]) -> tuple[list[Field], list[Field]]:
    """The fields that carry a name, and those that carry a value, in request order."""
    names: list[Field] = []
    values: list[Field] = []
    for fld in fields:
        (names if fld.is_name else values).append(fld)
    return names, values
