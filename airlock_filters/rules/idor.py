"""Object reference tampering (rule key IDOR).

An identifier parameter should carry one identifier. Wildcards, ranges and long lists in it are
how enumeration and mass-assignment of other users' objects are attempted.
"""

import functools
from collections.abc import Callable, Iterator

import re2

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import JSON, PARAM, Field, Request
from airlock_filters.rules._check import Check, Finding

_K = "IDOR"
_ID_NAME = re2.compile(r"(?i)(?:\A|[._\[-])(?:id|uid|uuid|guid)\]?\z|[a-z](?:Id|ID)\z|_id\z")
_WILDCARDS = frozenset({"*", "%", ".*", "_"})
_RANGE_OR_LIST = re2.compile(
    r"\A\s*-?[0-9]+\s*(?:-|\.\.|:)\s*-?[0-9]+\s*\z|\A(?:\s*[0-9]+\s*,){4,}"
)
_NEGATIVE = re2.compile(r"\A\s*-[0-9]+\s*\z")


@functools.lru_cache(maxsize=4096)
def _is_id_param(name: str) -> bool:
    return _ID_NAME.search(name) is not None


@functools.lru_cache(maxsize=4096)
def _is_id_path(path: str) -> bool:
    # A JSON path names its key last: `$.orders[0].customerId`.
    return _ID_NAME.search(path.rsplit(".", 1)[-1]) is not None


def _id_values(parsed: ParsedRequest, kind: int) -> list[Field]:
    is_id = _is_id_path if kind == JSON else _is_id_param
    # Every identifier name ends in `id` (or `id]`): a cheap test before the cached regex.
    return [
        fld for fld in parsed.values_of(kind) if "id" in fld.name[-3:].lower() and is_id(fld.name)
    ]


def _wildcard(kind: int) -> Callable[[Request, ParsedRequest], Iterator[Finding]]:
    def run(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
        for fld in _id_values(parsed, kind):
            if fld.value.strip() in _WILDCARDS:
                yield fld, fld.value[:48]

    return run


def _enumeration(kind: int) -> Callable[[Request, ParsedRequest], Iterator[Finding]]:
    def run(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
        for fld in _id_values(parsed, kind):
            if _RANGE_OR_LIST.search(fld.value) or _NEGATIVE.search(fld.value):
                yield fld, fld.value[:48]

    return run


CHECKS = [
    Check("IDOR-S01", _K, "Standard", PARAM, "wildcard in an identifier parameter",
          _wildcard(PARAM)),
    Check("IDOR-S02", _K, "Standard", JSON, "wildcard in an identifier JSON value",
          _wildcard(JSON)),
    Check("IDOR-X01", _K, "Strict", PARAM, "range, list or negative identifier",
          _enumeration(PARAM)),
    Check("IDOR-X02", _K, "Strict", JSON, "range, list or negative identifier",
          _enumeration(JSON)),
]  # fmt: skip
