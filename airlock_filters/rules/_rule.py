"""The shape of a built-in deny rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airlock_filters.request import HEADER, JSON, MARKUP, META, NORM, PARAM, PATH, RAW, SEGMENT

# Where user data lives: the usual targets of injection rules.
DATA = frozenset({SEGMENT, PARAM, JSON, HEADER})
ALL_FIELDS = frozenset({PATH, SEGMENT, PARAM, JSON, HEADER, META})
DECODED = frozenset({NORM})
DECODED_MARKUP = frozenset({NORM, MARKUP})
ENCODED = frozenset({RAW})

LEVEL_NAMES = ("Basic", "Standard", "Strict")


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern of a rule key, active from `level` upwards.

    `pattern` is a regular expression in the syntax Hyperscan and RE2 share (no backreferences,
    no lookaround), matched as an unanchored search over bytes; `kinds` and `variants` say which
    fields and which forms of them it is matched against.
    """

    id: str
    key: str
    level: str
    pattern: str
    description: str
    kinds: frozenset[int] = DATA
    variants: frozenset[int] = DECODED
    caseless: bool = True
    dotall: bool = False

    def __post_init__(self) -> None:
        if self.level not in LEVEL_NAMES:
            raise ValueError(f"{self.id}: unknown level {self.level}")


def rule_maker(
    key: str, kinds: frozenset[int] = DATA, variants: frozenset[int] = DECODED
) -> Callable[..., Rule]:
    """A Rule constructor bound to one rule key and its module's usual kinds and forms."""

    def make(
        rule_id: str,
        level: str,
        pattern: str,
        description: str,
        kinds: frozenset[int] = kinds,
        variants: frozenset[int] = variants,
        caseless: bool = True,
    ) -> Rule:
        return Rule(rule_id, key, level, pattern, description, kinds, variants, caseless)

    return make
