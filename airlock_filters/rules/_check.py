"""Structural checks: rules about the shape of a request rather than a pattern in a value."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airlock_filters.request import Field, Request

if TYPE_CHECKING:
    from airlock_filters.parsers import ParsedRequest

Finding = tuple[Field, str]  # the field at fault, and what is wrong with it


@dataclass(frozen=True, slots=True)
class Check:
    """A rule that needs Python: `run` yields the fields at fault.

    `kind` is the field kind the check reports on, so levels and overrides per field type apply
    to it like to a pattern rule. The fields it reports are fields of the parsed request (a
    check about headers may make one up for a header, which has no parsed field of its own);
    the engine skips a check whose kind has no fields in the request.
    """

    id: str
    key: str
    level: str
    kind: int
    description: str
    func: Callable[[Request, ParsedRequest], Iterable[Finding]]

    def run(self, request: Request, parsed: ParsedRequest) -> Iterable[Finding]:
        return self.func(request, parsed)
