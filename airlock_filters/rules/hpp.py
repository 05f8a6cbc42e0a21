"""HTTP parameter pollution (rule key HPP).

A parameter given twice is read as the first, the last or both joined, depending on the
framework; an attacker splits a payload across copies so no single copy looks dangerous.
"""

from collections.abc import Iterator

import re2

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import PARAM, Field, Request
from airlock_filters.rules._check import Check, Finding

_K = "HPP"
# Apostrophes are left out: `brand=levi's&brand=muji` is a shop filter, not an attack.
_SYNTAX = re2.compile(r"[<>\"`;(){}]|/\*|\*/|--")


def _values_by_name(parsed: ParsedRequest) -> dict[str, list[Field]]:
    by_name: dict[str, list[Field]] = {}
    for fld in parsed.of_kind(PARAM):
        # `a[]=1&a[]=2` is how PHP and Rails send lists on purpose.
        if not fld.is_name and fld.source in ("Query", "Post") and not fld.name.endswith("[]"):
            by_name.setdefault(fld.name, []).append(fld)
    return by_name


def _query_and_body(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for fields in _values_by_name(parsed).values():
        sources = {f.source for f in fields}
        if len(sources) > 1 and len({f.value for f in fields}) > 1:
            yield fields[-1], f"{fields[-1].name[:64]} in query and body with different values"


def _repeated(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    # Multi-selects repeat a name legitimately (`color=red&color=blue`); a split payload needs
    # syntax in at least one of the copies.
    for fields in _values_by_name(parsed).values():
        if len({f.value for f in fields}) > 1 and any(_SYNTAX.search(f.value) for f in fields):
            yield fields[-1], f"{fields[-1].name[:64]} given {len(fields)} times"


CHECKS = [
    Check("HPP-S01", _K, "Standard", PARAM,
          "same parameter in query and body with different values", _query_and_body),
    Check("HPP-X01", _K, "Strict", PARAM, "same parameter repeated with different values",
          _repeated),
]  # fmt: skip
