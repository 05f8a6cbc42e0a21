"""The built-in deny rules: patterns per rule key, plus structural checks.

Each rule key has its own module; `BUILTIN_RULES` and `BUILTIN_CHECKS` collect them in a fixed
order, so pattern ids in the compiled database are stable.
"""

from __future__ import annotations

from airlock_filters.rules._check import Check
from airlock_filters.rules._rule import Rule

from . import (
    bot,
    encoding,
    exploit,
    hpp,
    html,
    idor,
    ldap,
    nosql,
    ognl,
    php,
    protocol,
    sanity,
    scanning,
    sql,
    ssrf,
    template,
    unixcmd,
    wincmd,
    xss,
)

_MODULES = (
    bot, encoding, exploit, hpp, html, idor, ldap, nosql, ognl, php, protocol, sanity, scanning,
    sql, ssrf, template, unixcmd, wincmd, xss,
)  # fmt: skip

BUILTIN_RULES: tuple[Rule, ...] = tuple(r for m in _MODULES for r in getattr(m, "RULES", ()))
BUILTIN_CHECKS: tuple[Check, ...] = tuple(c for m in _MODULES for c in getattr(m, "CHECKS", ()))

__all__ = ["BUILTIN_CHECKS", "BUILTIN_RULES", "Check", "Rule"]
