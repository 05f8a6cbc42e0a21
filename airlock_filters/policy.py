"""Policy objects built from the `spec` of DenyRules, Limits and Parser resources.

`load_*` functions validate a spec against the shapes in `resources.py` (raising `PolicyError`
with the field path), fill in the documented defaults and build the objects the engine runs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re2
import yaml

from airlock_filters.errors import PolicyError
from airlock_filters.resources import (
    API_GROUP,
    DENY_RULES_SPEC,
    LEVELS,
    LIMITED_SPEC,
    LIMITS_SPEC,
    PARSER_SPEC,
)
from airlock_filters.scanner import widen_whitespace

LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}  # Unfiltered=0 .. Strict=3


class StringMatcher:
    """`{matcher: {exact|prefix|suffix|contains|regex}, ignoreCase}` as a callable test."""

    __slots__ = ("_regex", "ignore_case", "kind", "operand")

    def __init__(self, spec: dict[str, Any], force_ignore_case: bool = False) -> None:
        matcher = spec["matcher"]
        self.ignore_case = force_ignore_case or matcher.get("ignoreCase", False)
        self.kind, self.operand = next((k, v) for k, v in matcher.items() if k != "ignoreCase")
        self._regex = None
        if self.kind == "regex":
            self._regex = re2.compile(
                widen_whitespace(self.operand), re2.IGNORECASE if self.ignore_case else 0
            )
        elif self.ignore_case:
            self.operand = self.operand.lower()

    def __call__(self, text: str) -> bool:
        if self._regex is not None:
            # Airlock matchers are full matches; `.*x.*` style patterns are written for that.
            return self._regex.fullmatch(text) is not None
        if self.ignore_case:
            text = text.lower()
        if self.kind == "exact":
            return text == self.operand
        if self.kind == "prefix":
            return text.startswith(self.operand)
        if self.kind == "suffix":
            return text.endswith(self.operand)
        return self.operand in text

    def pattern(self) -> str:
        """The same test as an unanchored-search regular expression, for the scan database."""
        if self.kind == "regex":
            return rf"\A(?:{self.operand})\z"
        literal = re.escape(self.operand)
        return {
            "exact": rf"\A{literal}\z",
            "prefix": rf"\A{literal}",
            "suffix": rf"{literal}\z",
            "contains": literal,
        }[self.kind]

    def __repr__(self) -> str:
        return f"StringMatcher({self.kind}={self.operand!r}, ignore_case={self.ignore_case})"


def _opt_matcher(spec: dict[str, Any], key: str, ignore_case: bool = False) -> StringMatcher | None:
    return StringMatcher(spec[key], ignore_case) if key in spec else None


@dataclass(slots=True)
class RequestContext:
    """What request conditions look at, computed once per request."""

    method: str
    path: str  # normalized: decoded, `.`/`..` resolved
    headers: Sequence[tuple[str, str]]
    remote_ip: str
    media_type: str


class RequestConditions:
    __slots__ = (
        "header_name",
        "header_value",
        "invert",
        "ip_invert",
        "media_type",
        "methods",
        "networks",
        "path",
    )  # fmt: skip

    def __init__(self, spec: dict[str, Any]) -> None:
        self.path = _opt_matcher(spec, "path")
        header = spec.get("header", {})
        # Header names are case-insensitive in HTTP, so their matcher always ignores case.
        self.header_name = _opt_matcher(header, "name", ignore_case=True)
        self.header_value = _opt_matcher(header, "value")
        self.methods = frozenset(spec.get("method", ()))
        remote = spec.get("remoteIP")
        self.networks = (
            [ipaddress.ip_network(c, strict=False) for c in remote["cidrRanges"]] if remote else []
        )
        self.ip_invert = bool(remote and remote.get("invert"))
        self.media_type = _opt_matcher(spec, "mediaType")
        self.invert = spec.get("invert", False)

    def __call__(self, ctx: RequestContext) -> bool:
        return self._all(ctx) != self.invert

    def _all(self, ctx: RequestContext) -> bool:
        if self.methods and ctx.method.upper() not in self.methods:
            return False
        if self.path is not None and not self.path(ctx.path):
            return False
        if (self.header_name or self.header_value) and not any(
            (self.header_name is None or self.header_name(name))
            and (self.header_value is None or self.header_value(value))
            for name, value in ctx.headers
        ):
            return False
        if self.networks:
            try:
                address = ipaddress.ip_address(ctx.remote_ip)
            except ValueError:
                in_range = False
            else:
                in_range = any(address in net for net in self.networks)
            if in_range == self.ip_invert:
                return False
        return self.media_type is None or self.media_type(ctx.media_type)


def _conditions(spec: dict[str, Any]) -> RequestConditions | None:
    return RequestConditions(spec["requestConditions"]) if "requestConditions" in spec else None


@dataclass(slots=True)
class FieldSelector:
    """blockedData / blockData: which field (type, name, value) a rule or exception is about."""

    kind: str  # parameter | header | path | pathSegment | json | graphQL
    name: StringMatcher | None = None  # parameter/header name, JSON key
    value: StringMatcher | None = None
    source: str = "Any"  # parameters: Query | Post | Any
    json_path: str | None = None
    segment: int | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FieldSelector:
        kind, body = next(iter(spec.items()))
        if kind == "path":
            return cls(kind, value=StringMatcher(body))
        if kind == "json":
            return cls(
                kind,
                name=_opt_matcher(body, "key"),
                value=_opt_matcher(body, "value"),
                json_path=body.get("jsonPath"),
            )
        if kind == "pathSegment":
            segments = body.get("segments")
            return cls(
                kind,
                value=_opt_matcher(body, "value"),
                segment=segments["index"] if segments else None,
            )
        return cls(
            kind,
            name=_opt_matcher(body, "name", ignore_case=kind == "header"),
            value=_opt_matcher(body, "value"),
            source=body.get("source", "Any"),
        )


@dataclass(slots=True)
class Override:
    rule_keys: frozenset[str] | None
    types: frozenset[str] | None
    level: str | None
    mode: str | None


@dataclass(slots=True)
class DenyException:
    rule_keys: frozenset[str] | None
    blocked_data: FieldSelector | None
    conditions: RequestConditions | None


@dataclass(slots=True)
class CustomRule:
    rule_key: str
    block_data: FieldSelector
    conditions: RequestConditions | None
    mode: str


@dataclass(slots=True)
class DenyRules:
    level: str = "Standard"
    mode: str = "Block"
    overrides: list[Override] = field(default_factory=list)
    exceptions: list[DenyException] = field(default_factory=list)
    custom_rules: list[CustomRule] = field(default_factory=list)

    def settings_for(self, rule_key: str, field_type: str) -> tuple[str, str]:
        """(level, mode) for a rule key on a field type; the last matching override wins."""
        level, mode = self.level, self.mode
        for override in self.overrides:
            if override.rule_keys is not None and rule_key not in override.rule_keys:
                continue
            if override.types is not None and field_type not in override.types:
                continue
            level = override.level or level
            mode = override.mode or mode
        return level, mode


def load_deny_rules(spec: Any, path: str = "spec") -> DenyRules:
    data = DENY_RULES_SPEC.load(spec, path)
    builtin = data["request"]["builtIn"]
    keys = lambda d: frozenset(d["ruleKeys"]) if "ruleKeys" in d else None  # noqa: E731
    return DenyRules(
        level=builtin["settings"]["level"],
        mode=builtin["settings"]["threatHandlingMode"],
        overrides=[
            Override(
                rule_keys=keys(o.get("conditions", {})),
                types=frozenset(o["conditions"]["types"])
                if "types" in o.get("conditions", {})
                else None,
                level=o.get("settings", {}).get("level"),
                mode=o.get("settings", {}).get("threatHandlingMode"),
            )
            for o in builtin.get("overrides", [])
        ],
        exceptions=[
            DenyException(
                rule_keys=keys(e),
                blocked_data=FieldSelector.from_spec(e["blockedData"])
                if "blockedData" in e
                else None,
                conditions=_conditions(e),
            )
            for e in builtin.get("exceptions", [])
        ],
        custom_rules=[
            CustomRule(
                rule_key=r["ruleKey"],
                block_data=FieldSelector.from_spec(r["blockData"]),
                conditions=_conditions(r),
                mode=r["threatHandlingMode"],
            )
            for r in data["request"]["custom"].get("rules", [])
        ],
    )


@dataclass(slots=True)
class LimitException:
    parameter: StringMatcher | None
    source: str
    json_path: str | None
    conditions: RequestConditions | None


@dataclass(slots=True)
class Limits:
    """Sizes and counts; `None` everywhere means `unlimited`."""

    enabled: bool = True
    mode: str = "Block"
    body_size: int = 100 * 2**20
    path_length: int = 2**10
    param_body_size: int = 100 * 2**10
    param_count: int = 128
    param_name_length: int = 128
    param_value_length: int = 8 * 2**10
    json_body_size: int = 100 * 2**10
    json_nesting_depth: int = 100
    json_key_count: int = 250
    json_element_count: int = 10000
    json_key_length: int = 128
    json_value_length: int = 8 * 2**10
    multipart_body_size: int = 100 * 2**20
    # Our own, not in the resource: a request with more or larger headers is not a browser.
    header_count: int = 100
    header_size: int = 16 * 2**10
    exceptions: list[LimitException] = field(default_factory=list)


def load_limits(spec: Any, path: str = "spec") -> Limits:
    data = LIMITS_SPEC.load(spec, path)
    mode = data["settings"]["threatHandlingMode"]
    request = data["request"]
    if "unlimited" in request:
        return Limits(enabled=False, mode=mode)
    lim = request["limited"] if "limited" in request else LIMITED_SPEC.load({}, f"{path}.limited")
    general, param, json_, multi = lim["general"], lim["parameter"], lim["json"], lim["multipart"]
    exceptions = []
    for exc in lim.get("exceptions", []):
        length = exc["length"]
        parameter = length.get("parameter", {})
        exceptions.append(
            LimitException(
                parameter=_opt_matcher(parameter, "name"),
                source=parameter.get("source", "Any"),
                json_path=length.get("json", {}).get("jsonPath"),
                conditions=_conditions(exc),
            )
        )
    return Limits(
        mode=mode,
        body_size=general["bodySize"],
        path_length=general["pathLength"],
        param_body_size=param["bodySize"],
        param_count=param["count"],
        param_name_length=param["nameLength"],
        param_value_length=param["valueLength"],
        json_body_size=json_["bodySize"],
        json_nesting_depth=json_["nestingDepth"],
        json_key_count=json_["keyCount"],
        json_element_count=json_["elementCount"],
        json_key_length=json_["keyLength"],
        json_value_length=json_["valueLength"],
        multipart_body_size=multi["bodySize"],
        exceptions=exceptions,
    )


@dataclass(slots=True)
class ParserRule:
    action: str  # json | form | multipart | skip
    conditions: RequestConditions


@dataclass(slots=True)
class Parser:
    default_content_type: str = "application/x-www-form-urlencoded"
    # parser name -> media type pattern (RE2, full match); a disabled parser is absent
    media_types: dict[str, Any] = field(default_factory=dict)
    rules: list[ParserRule] = field(default_factory=list)

    def body_parser(self, ctx: RequestContext) -> str | None:
        """Which parser reads the body (json, form, multipart, or skip for none): the first
        matching custom rule, else the media type; None when no parser applies."""
        for rule in self.rules:
            if rule.conditions(ctx):
                return rule.action
        for name, pattern in self.media_types.items():
            if pattern.fullmatch(ctx.media_type):
                return name
        return None


def load_parser(spec: Any, path: str = "spec") -> Parser:
    data = PARSER_SPEC.load(spec, path)["request"]
    media_types = {
        name: re2.compile(cfg["mediaTypePattern"], re2.IGNORECASE)
        for name, cfg in data["parsers"].items()
        if cfg["enable"]
    }
    rules = []
    for rule in data["custom"].get("rules", []):
        action = rule["action"]
        name = "skip" if "skip" in action else next(iter(action["parse"]))
        rules.append(ParserRule(name, RequestConditions(rule["requestConditions"])))
    return Parser(data["defaultContentType"], media_types, rules)


@dataclass(slots=True)
class ContentSecurity:
    """What a route is protected with: parser + limits + deny rules (+ header rewrites)."""

    parser: Parser
    limits: Limits
    deny_rules: DenyRules
    header_rewrites: dict[str, Any] = field(default_factory=dict)
    secured: bool = True
    name: str = "default"


def default_policy(level: str | None = None) -> ContentSecurity:
    """The built-in policy: every resource at its documented defaults."""
    deny = load_deny_rules({})
    if level is not None:
        if level not in LEVEL_RANK:
            raise PolicyError("--level", f"must be one of {', '.join(LEVELS)}, got {level!r}")
        deny.level = level
    return ContentSecurity(load_parser({}), load_limits({}), deny)


_LOADERS = {"DenyRules": load_deny_rules, "Limits": load_limits, "Parser": load_parser}
_CSP_REFS = {"parserRef": "Parser", "limitsRef": "Limits", "headerRewritesRef": "HeaderRewrites"}


_Resources = dict[str, dict[str, tuple[str, Any]]]  # kind -> name -> (where, spec)


def _collect(
    documents: Iterable[tuple[str, Any]],
) -> tuple[_Resources, list[tuple[str, dict[str, Any]]]]:
    """Sort resource documents into referable resources and ContentSecurityPolicies."""
    by_kind: _Resources = {}
    policies: list[tuple[str, dict[str, Any]]] = []
    for source, doc in documents:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise PolicyError(source, "a document must be a Kubernetes resource object")
        kind = doc.get("kind")
        api_version = str(doc.get("apiVersion", ""))
        if not api_version.startswith(API_GROUP + "/"):
            raise PolicyError(f"{source}.apiVersion", f"must be {API_GROUP}/v1alpha1")
        name = str((doc.get("metadata") or {}).get("name", ""))
        where = f"{source}: {kind}/{name}" if name else f"{source}: {kind}"
        if kind == "ContentSecurityPolicy":
            policies.append((where, doc))
        elif kind in _LOADERS or kind == "HeaderRewrites":
            if name in by_kind.setdefault(kind, {}):
                raise PolicyError(where, f"duplicate {kind} named {name!r}")
            by_kind[kind][name] = (where, doc.get("spec") or {})
        else:
            raise PolicyError(f"{source}.kind", f"unsupported kind {kind!r}")
    return by_kind, policies


def _bundle(by_kind: _Resources, policy: tuple[str, dict[str, Any]] | None) -> ContentSecurity:
    """One ContentSecurity: a policy's references pick resources by name (an absent reference
    means the built-in defaults); without a policy, the single resource of each kind is used."""
    refs: dict[str, str | None] = {k: None for k in (*_LOADERS, "HeaderRewrites")}
    name = "default"
    secured = True
    if policy is not None:
        where, csp = policy
        name = str((csp.get("metadata") or {}).get("name", "default"))
        spec = csp.get("spec") or {}
        secured = "unsecured" not in spec
        sec = spec.get("secured") or {}
        if not isinstance(sec, dict):
            raise PolicyError(f"{where}.spec.secured", "must be an object")
        for ref, kind in _CSP_REFS.items():
            refs[kind] = (sec.get(ref) or {}).get("name")
        refs["DenyRules"] = ((sec.get("filter") or {}).get("denyRulesRef") or {}).get("name")

    def resolve(kind: str, ref_path: str) -> tuple[str, Any] | None:
        found = by_kind.get(kind, {})
        ref_name = refs[kind]
        if ref_name is None:
            if policy is not None:
                return None
            if len(found) > 1:
                raise PolicyError(ref_path, f"several {kind} resources given, none referenced")
            return next(iter(found.values()), None)
        if ref_name not in found:
            where = f"{policy[0]}.spec.secured.{ref_path}" if policy else ref_path
            raise PolicyError(where, f"{kind} {ref_name!r} not found")
        return found[ref_name]

    def build(kind: str, ref_path: str) -> Any:
        found = resolve(kind, ref_path)
        if found is None:
            return _LOADERS[kind]({})
        where, spec = found
        return _LOADERS[kind](spec, f"{where}: spec")

    header_rewrites = resolve("HeaderRewrites", "headerRewritesRef")
    return ContentSecurity(
        parser=build("Parser", "parserRef"),
        limits=build("Limits", "limitsRef"),
        deny_rules=build("DenyRules", "filter.denyRulesRef"),
        header_rewrites=header_rewrites[1] if header_rewrites else {},
        secured=secured,
        name=name,
    )


def load_policy_documents(documents: Iterable[tuple[str, Any]]) -> ContentSecurity:
    """Build one ContentSecurity from resource documents (source name, parsed YAML).

    With a ContentSecurityPolicy among them, its references pick the resources by name (a
    missing reference is an error; an absent one means defaults). Without one, at most one
    resource of each kind may be given and it is used directly.
    """
    by_kind, policies = _collect(documents)
    if len(policies) > 1:
        raise PolicyError(policies[1][0], "only one ContentSecurityPolicy per policy bundle")
    return _bundle(by_kind, policies[0] if policies else None)


def load_policy_set(documents: Iterable[tuple[str, Any]]) -> dict[str, ContentSecurity]:
    """Named policies from resource documents, as the sidecar serves them to routes.

    Every ContentSecurityPolicy is one policy, named after it, sharing the other resources by
    reference. Without any, the resources form one policy named "default". A "default" policy
    always exists: the built-in one unless the documents define it.
    """
    by_kind, policies = _collect(documents)
    if not policies:
        return {"default": _bundle(by_kind, None)}
    result: dict[str, ContentSecurity] = {}
    for policy in policies:
        bundle = _bundle(by_kind, policy)
        if bundle.name in result:
            raise PolicyError(policy[0], f"duplicate ContentSecurityPolicy named {bundle.name!r}")
        result[bundle.name] = bundle
    result.setdefault("default", default_policy())
    return result


def read_policy_documents(paths: Sequence[str | Path]) -> list[tuple[str, Any]]:
    """(source name, parsed document) for every YAML document in the files."""
    documents: list[tuple[str, Any]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(str(path), f"cannot read: {exc.strerror}") from None
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise PolicyError(str(path), f"invalid YAML: {exc}") from None
        documents.extend((f"{path}[{i}]" if len(docs) > 1 else str(path), d)
                         for i, d in enumerate(docs))  # fmt: skip
    return documents


def load_policy_files(paths: Sequence[str | Path]) -> ContentSecurity:
    """Load a policy from YAML files holding one or many resource documents."""
    return load_policy_documents(read_policy_documents(paths))
