"""Sanity of a request's shape (rule key SANITY).

Values no client produces in normal use: absurdly long runs of one character (overflow
probes), header names outside the token grammar, paths with Windows separators.
"""

from collections.abc import Iterator

import re2

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import META, PATH, Field, Request
from airlock_filters.rules._check import Check, Finding
from airlock_filters.rules._rule import DECODED, Rule

_K = "SANITY"
_TOKEN = re2.compile(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\z")

RULES = [
    Rule(
        "SANITY-S01", _K, "Standard", r"\\",
        "backslash in the path: Windows separators confuse path checks",
        kinds=frozenset({PATH}), variants=DECODED,
    ),
    Rule(
        "SANITY-X01", _K, "Strict",
        r"A{128}|%{32}|\*{32}|\.{64}|/{16}|x{128}|#{64}|0{256}|1{256}",
        "a long run of one character, typical of overflow probes",
    ),
]  # fmt: skip


def _header_names(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for name, value in request.headers:
        if not name.startswith(":") and not _TOKEN.search(name):
            yield Field(META, name[:64], value, value, "Header"), f"header name {name[:32]!r}"


CHECKS = [
    Check("SANITY-B01", _K, "Basic", META, "header name outside the token grammar",
          _header_names),
]  # fmt: skip
