"""The filter engine: one policy compiled once, then `inspect(request) -> Decision`.

All patterns of a policy (built-in rules active at some level for some field type, plus the
value matchers of custom rules) go into one scanner; one scan call covers every form of every
field of a request. Everything cheaper than a regular expression (exceptions, names, modes)
happens after the scan, on the few matches.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from airlock_filters import decision as d
from airlock_filters._scanner_py import compile_pattern
from airlock_filters.errors import LimitExceeded, ParseError
from airlock_filters.jsonpath import jsonpath_matches
from airlock_filters.parsers import ParsedRequest, parse_request
from airlock_filters.policy import (
    LEVEL_RANK,
    ContentSecurity,
    CustomRule,
    FieldSelector,
    RequestContext,
    default_policy,
)
from airlock_filters.prepare import scan_input
from airlock_filters.request import (
    FIELD_TYPE,
    HEADER,
    JSON,
    KINDS,
    MARKUP,
    META,
    NORM,
    PARAM,
    PATH,
    RAW,
    SEGMENT,
    VARIANTS,
    Field,
    Request,
    slot,
)
from airlock_filters.rules import BUILTIN_CHECKS, BUILTIN_RULES, Check, Rule
from airlock_filters.scanner import CASELESS, DOTALL, build_scanner, widen_whitespace

_SELECTOR_KINDS = {
    "parameter": (PARAM,),
    "header": (HEADER, META),
    "path": (PATH, SEGMENT),  # a segment is part of the path
    "pathSegment": (SEGMENT,),
    "json": (JSON,),
    "graphQL": (),
}


@dataclass(frozen=True, slots=True)
class _Entry:
    """What a pattern in the scanner stands for."""

    rule: Rule | None
    custom: CustomRule | None
    expression: bytes
    flags: int


def _bits(kinds: Iterable[int], variants: Iterable[int]) -> int:
    return sum(1 << slot(k, v) for k in kinds for v in variants)


# Groups of patterns compiled into separate databases of the Hyperscan scanner: a value is
# scanned only by the databases whose patterns can apply to it. Most patterns look at decoded
# user data; the few for raw forms, the path and protocol headers need not cost every value a
# pass through all the others. Strict rules and custom rules have groups of their own, so that
# levels and custom rules change masks only, never what the built-in groups compile to.
_LIGHT_SLOTS = _bits(KINDS, (RAW,)) | _bits((PATH, META), VARIANTS)
_LIGHT, _DATA, _MIXED, _STRICT, _CUSTOM = range(5)

# Field kinds whose field type no other kind has.
_OWN_TYPE_KINDS = frozenset(k for k in KINDS if list(FIELD_TYPE.values()).count(FIELD_TYPE[k]) == 1)


def _group(rule: Rule) -> int:
    if rule.level == "Strict":
        return _STRICT
    reach = _bits(rule.kinds, rule.variants)
    if not reach & ~_LIGHT_SLOTS:
        return _LIGHT
    return _MIXED if reach & _LIGHT_SLOTS else _DATA


def selector_matches(sel: FieldSelector, fld: Field, ctx: RequestContext) -> bool:
    """Whether a blockedData / blockData selector designates this field."""
    if fld.kind not in _SELECTOR_KINDS[sel.kind]:
        return False
    if sel.kind == "parameter":
        source = "Post" if fld.source in ("Post", "FileName") else fld.source
        if sel.source != "Any" and sel.source != source:
            return False
        if sel.name is not None and not sel.name(fld.name):
            return False
        return sel.value is None or (not fld.is_name and sel.value(fld.value))
    if sel.kind == "header":
        if sel.name is not None and not sel.name(fld.name):
            return False
        return sel.value is None or (not fld.is_name and sel.value(fld.value))
    if sel.kind == "path":
        return sel.value is not None and sel.value(ctx.path)
    if sel.kind == "pathSegment":
        if sel.segment is not None and str(sel.segment) != fld.name:
            return False
        return sel.value is None or sel.value(fld.value)
    # json
    if sel.json_path is not None and not jsonpath_matches(sel.json_path, fld.name):
        return False
    if sel.name is not None:
        return fld.is_name and sel.name(fld.value)
    if sel.value is not None:
        return not fld.is_name and sel.value(fld.value)
    return True


class Engine:
    """Inspects requests against one ContentSecurity policy."""

    def __init__(
        self,
        policy: ContentSecurity | None = None,
        rules: Sequence[Rule] = BUILTIN_RULES,
        checks: Sequence[Check] = BUILTIN_CHECKS,
        implementation: str | None = None,
    ) -> None:
        self.policy = policy or default_policy()
        deny = self.policy.deny_rules
        patterns: list[tuple[bytes, int, int]] = []
        groups: list[int] = []
        entries: list[_Entry] = []
        self._markup_kinds = 0
        for rule in rules:
            # Inactive rules stay in the database with an empty mask: the compiled database
            # then depends only on the rule set, and every level and override shares it.
            kinds = [k for k in rule.kinds if self._active(rule.key, rule.level, k)]
            flags = (CASELESS if rule.caseless else 0) | (DOTALL if rule.dotall else 0)
            expression = widen_whitespace(rule.pattern).encode()
            patterns.append((expression, flags, _bits(kinds, rule.variants)))
            groups.append(_group(rule))
            entries.append(_Entry(rule, None, patterns[-1][0], flags))
            if MARKUP in rule.variants:
                self._markup_kinds |= sum(1 << k for k in kinds)
        self._name_only_rules: list[CustomRule] = []
        for custom in deny.custom_rules:
            matcher = custom.block_data.value or (
                custom.block_data.name if custom.block_data.kind == "json" else None
            )
            if matcher is None:
                self._name_only_rules.append(custom)
                continue
            flags = CASELESS if matcher.ignore_case else 0
            expression = widen_whitespace(matcher.pattern()).encode()
            selected = _SELECTOR_KINDS[custom.block_data.kind]
            patterns.append((expression, flags, _bits(selected, (NORM,))))
            groups.append(_CUSTOM)
            entries.append(_Entry(None, custom, patterns[-1][0], flags))
        self._entries = entries
        self.patterns = patterns  # (expression, flags, mask) as given to the scanner
        self._masks = [mask for _, _, mask in patterns]
        self._checks = [c for c in checks if self._active(c.key, c.level, c.kind)]
        self.scanner = build_scanner(patterns, implementation, groups)

    def _active(self, key: str, level: str, kind: int) -> bool:
        if not self.policy.secured:
            return False
        configured, _ = self.policy.deny_rules.settings_for(key, FIELD_TYPE[kind])
        return LEVEL_RANK[configured] >= LEVEL_RANK[level]

    def inspect(self, request: Request) -> d.Decision:
        policy = self.policy
        if not policy.secured:
            return d.Decision(d.ALLOW)
        logged: list[d.Match] = []
        try:
            parsed = parse_request(request, policy)
        except ParseError as exc:
            return d.Decision(d.BLOCK, 400, d.PARSER, detail=str(exc))
        except LimitExceeded as exc:
            if policy.limits.mode == "Block":
                return d.Decision(d.BLOCK, 400, d.LIMITS, detail=str(exc))
            logged.append(_limit_match(exc, "LogOnly"))
            relaxed = dataclasses.replace(
                policy, limits=dataclasses.replace(policy.limits, enabled=False)
            )
            try:
                parsed = parse_request(request, relaxed)
            except ParseError as parse_exc:
                return d.Decision(d.BLOCK, 400, d.PARSER, logged, detail=str(parse_exc))
        matches = self._scan(parsed) + self._run_checks(request, parsed)
        matches.extend(logged)
        if any(m.mode == "Block" for m in matches):
            return d.Decision(d.BLOCK, 400, d.DENY_RULES, matches)
        if matches:
            only_limits = all(m.rule_key == "LIMITS" for m in matches)
            return d.Decision(d.LOG, None, d.LIMITS if only_limits else d.DENY_RULES, matches)
        return d.Decision(d.ALLOW)

    def _values(self, fields: list[Field]) -> tuple[list[bytes], list[int]]:
        """The distinct byte strings to scan and their combined slot bits."""
        values, bits, _ = scan_input(fields, self._markup_kinds, with_owners=False)
        return values, bits

    def _owners(self, fields: list[Field]) -> list[list[tuple[int, int]]]:
        """For each value of `_values`, the (field index, slot bits) it stands for. Worked out
        again only for a request with a match: most have none."""
        _, _, owners = scan_input(fields, self._markup_kinds)
        assert owners is not None
        return owners

    def _scan(self, parsed: ParsedRequest) -> list[d.Match]:
        fields = parsed.fields
        values, bits = self._values(fields)
        hits = self.scanner.scan(values, bits)
        owners = self._owners(fields) if hits else []
        ctx = parsed.context
        masks = self._masks
        seen: set[tuple[int, int]] = set()
        matches: list[d.Match] = []
        for pattern_index, value_index in hits:
            entry = self._entries[pattern_index]
            for field_index, field_bits in owners[value_index]:
                if not masks[pattern_index] & field_bits or (pattern_index, field_index) in seen:
                    continue
                seen.add((pattern_index, field_index))
                fld = fields[field_index]
                excerpt = _excerpt(entry.expression, entry.flags, values[value_index], fld.name)
                match = self._match(entry, fld, ctx, excerpt)
                if match is not None:
                    matches.append(match)
        for custom in self._name_only_rules:
            for fld in fields:
                if _custom_applies(custom, fld, ctx):
                    matches.append(_custom_match(custom, fld, d.mask_excerpt(fld.name, fld.value)))
                    break
        return matches

    def _match(
        self, entry: _Entry, fld: Field, ctx: RequestContext, excerpt: str
    ) -> d.Match | None:
        if entry.rule is not None:
            rule = entry.rule
            if self._excepted(rule.key, fld, ctx):
                return None
            _, mode = self.policy.deny_rules.settings_for(rule.key, fld.type)
            return d.Match(
                rule.key, rule.id, rule.level, mode, fld.type, fld.name, excerpt, fld.source
            )
        custom = entry.custom
        if custom is None or not _custom_applies(custom, fld, ctx):
            return None
        return _custom_match(custom, fld, excerpt)

    def _excepted(self, rule_key: str, fld: Field, ctx: RequestContext) -> bool:
        for exc in self.policy.deny_rules.exceptions:
            if exc.rule_keys is not None and rule_key not in exc.rule_keys:
                continue
            if exc.blocked_data is not None and not selector_matches(exc.blocked_data, fld, ctx):
                continue
            if exc.conditions is not None and not exc.conditions(ctx):
                continue
            return True
        return False

    def _run_checks(self, request: Request, parsed: ParsedRequest) -> list[d.Match]:
        deny = self.policy.deny_rules
        matches: list[d.Match] = []
        for check in self._checks:
            # A check of these kinds reports fields of its kind that the parser found (see
            # Check): with none, it has nothing to say. Headers share a field type, so the
            # header kinds always run.
            if check.kind in _OWN_TYPE_KINDS and not parsed.of_kind(check.kind):
                continue
            for fld, excerpt in check.run(request, parsed):
                # A check reports on one field type: levels and overrides were decided for it.
                if fld.type != FIELD_TYPE[check.kind]:
                    continue
                if self._excepted(check.key, fld, parsed.context):
                    continue
                _, mode = deny.settings_for(check.key, fld.type)
                matches.append(
                    d.Match(
                        check.key,
                        check.id,
                        check.level,
                        mode,
                        fld.type,
                        fld.name,
                        d.mask_excerpt(fld.name, excerpt),
                        fld.source,
                    )
                )
        return matches


def _custom_applies(custom: CustomRule, fld: Field, ctx: RequestContext) -> bool:
    if not selector_matches(custom.block_data, fld, ctx):
        return False
    return custom.conditions is None or custom.conditions(ctx)


def _custom_match(custom: CustomRule, fld: Field, excerpt: str) -> d.Match:
    rule_id = f"custom:{custom.rule_key}"
    return d.Match(
        custom.rule_key, rule_id, "Custom", custom.mode, fld.type, fld.name, excerpt, fld.source
    )


def _limit_match(exc: LimitExceeded, mode: str) -> d.Match:
    return d.Match("LIMITS", exc.limit, "", mode, "", exc.name or "", exc.detail)


@functools.lru_cache(maxsize=4096)
def _excerpt_regex(expression: bytes, flags: int) -> Any:
    # Compiled on the first match only: matches are rare, and most patterns never need it.
    return compile_pattern(expression, flags)


def _excerpt(expression: bytes, flags: int, value: bytes, field_name: str) -> str:
    found = _excerpt_regex(expression, flags).search(value)
    start, end = found.span() if found else (0, min(len(value), d.EXCERPT_CHARS))
    text = value[start : max(end, start + 1)][: d.EXCERPT_CHARS].decode("utf-8", "replace")
    return d.mask_excerpt(field_name, text)
