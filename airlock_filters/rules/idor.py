"""Object reference tampering (rule key IDOR).

An identifier parameter should carry one identifier. Wildcards, ranges and long lists in it are
how enumeration and mass-assignment of other users' objects are attempted.
"""

import functools
from collections.abc import Iterator

import re2

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import JSON, PARAM, Field, Request
from airlock_filters.rules._check import Check, Finding

_K = "IDOR"
_ID_NAME = re2.compile(r"(?i)(?:\A|[._\[-])(?:id|uid|uuid|guid)\]?\z|[a-z](?:Id|ID)\z|_id\z")
_WILDCARD = re2.compile(r"\A\s*(?:\*|%|\.\*|_)\s*\z")
_RANGE_OR_LIST = re2.compile(
    r"\A\s*-?[0-9]+\s*(?:-|\.\.|:)\s*-?[0-9]+\s*\z|\A(?:\s*[0-9]+\s*,){4,}"
)
_NEGATIVE = re2.compile(r"\A\s*-[0-9]+\s*\z")


@functools.lru_cache(maxsize=4096)
def _is_id_name(name: str) -> bool:
    return _ID_NAME.search(name) is not None


def _id_fields(parsed: ParsedRequest) -> Iterator[Field]:
    for fld in parsed.fields:
        if fld.kind in (PARAM, JSON) and not fld.is_name:
            name = fld.name.rsplit(".", 1)[-1] if fld.kind == JSON else fld.name
            if _is_id_name(name):
                yield fld


def _wildcard(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for fld in _id_fields(parsed):
        if _WILDCARD.search(fld.value):
            yield fld, fld.value[:48]


def _enumeration(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for fld in _id_fields(parsed):
        if _RANGE_OR_LIST.search(fld.value) or _NEGATIVE.search(fld.value):
            yield fld, fld.value[:48]


CHECKS = [
    Check("IDOR-S01", _K, "Standard", PARAM, "wildcard in an identifier parameter", _wildcard),
    Check("IDOR-S02", _K, "Standard", JSON, "wildcard in an identifier JSON value", _wildcard),
    Check("IDOR-X01", _K, "Strict", PARAM, "range, list or negative identifier", _enumeration),
    Check("IDOR-X02", _K, "Strict", JSON, "range, list or negative identifier", _enumeration),
]  # fmt: skip
