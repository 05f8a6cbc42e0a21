"""UNIXCMD deny rules."""

from airlock_filters.rules._rule import Rule

RULES: list[Rule] = []
