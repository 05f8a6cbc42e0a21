"""HeaderRewrites: which request and response headers pass the gateway, and which it adds.

One spec, three executors, so every rule runs in the cheapest place that can run it exactly:

- **Envoy, natively** (`envoy_native()`): removals by header name alone and additions without
  request conditions, as route fields (`request_headers_to_remove`, `response_headers_to_add`,
  ...). Envoy evaluates the command operators (`%REQ(x)%`) the values may hold.
- **A per-route Lua filter** (`envoy_native()["lua_response_source"]`): response removals that
  look at values (`Access-Control-Allow-Origin: *`, `WWW-Authenticate: NTLM`, custom value
  matchers) and the response allow-list.
- **The ext_proc sidecar** (`request_changes()`): the request allow-list, request removals that
  look at values or request conditions, and additions under request conditions. Response rules
  Lua cannot run (RE2 regexes, request conditions, Integration/LogOnly modes) move the whole
  response side to the sidecar (`sidecar_response_headers`).

The order is the same everywhere: allow-list, then removals, then additions. `response_changes()`
is the reference semantics of the response side in pure Python; the Envoy configuration must
produce exactly its result.

`HeaderChanges` maps one to one onto an ext_proc `HeaderMutation`: `remove` names are removed
first, then `set` entries apply in order, `overwrite=True` as OVERWRITE_IF_EXISTS_OR_ADD and
`overwrite=False` as APPEND_IF_EXISTS_OR_ADD. A header that loses some of its values is removed
by name and its remaining values are appended again, since removal is by name only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airlock_filters.errors import PolicyError
from airlock_filters.policy import RequestConditions, RequestContext, StringMatcher
from airlock_filters.resources import HEADER_REWRITES_SPEC

# --- Header lists -------------------------------------------------------------------------------

STANDARD_REQUEST_HEADERS = frozenset(
    {
        # RFC 9110 (semantics) and RFC 9111 (caching) request headers.
        "accept", "accept-charset", "accept-encoding", "accept-language", "authorization",
        "cache-control", "content-encoding", "content-language", "content-length",
        "content-location", "content-range", "content-type", "date", "expect", "from", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
        "max-forwards", "pragma", "range", "referer", "te", "trailer", "transfer-encoding",
        "upgrade", "user-agent", "via",
        # State, CORS and fetch metadata sent by browsers.
        "cookie", "origin", "access-control-request-method", "access-control-request-headers",
        "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-user", "sec-ch-ua",
        "sec-ch-ua-mobile", "sec-ch-ua-platform", "upgrade-insecure-requests", "dnt",
        "priority", "prefer",
        # WebSocket handshake (RFC 6455).
        "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol",
        "sec-websocket-extensions",
        # gRPC over HTTP/2.
        "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
        # Common practice: AJAX marker and CSRF tokens of web frameworks.
        "x-requested-with", "x-csrf-token", "x-xsrf-token",
        # The forwarding headers Envoy itself sets from the connection it sees.
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    }
)  # fmt: skip
"""Request headers the default allow-list forwards (`standardHeaders`): the request headers of
RFC 9110/9111, what browsers send for cookies, CORS, fetch metadata and WebSockets, gRPC's own
headers, and the `X-Forwarded-*` headers as Envoy sets them. Anything else (custom `X-` headers,
tracing headers, alternative forwarded headers) needs a rule."""

TRACING_HEADERS = frozenset(
    {
        "traceparent", "tracestate", "baggage",  # W3C Trace Context
        "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
        "x-b3-flags",  # Zipkin B3
        "x-request-id",  # Envoy
        "x-cloud-trace-context", "grpc-trace-bin",  # Google Cloud / OpenCensus
        "uber-trace-id",  # Jaeger
        "x-ot-span-context",  # Lightstep / OpenTracing
        "x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority",
        "x-datadog-origin",  # Datadog
        "x-amzn-trace-id",  # AWS X-Ray
        "sw8",  # SkyWalking
    }
)  # fmt: skip
"""Request headers `tracingHeaders` adds to the allow-list."""

STANDARD_RESPONSE_HEADERS = frozenset(
    {
        # RFC 9110/9111 response and representation headers.
        "accept-ranges", "age", "allow", "cache-control", "content-disposition",
        "content-encoding", "content-language", "content-length", "content-location",
        "content-range", "content-type", "date", "etag", "expires", "last-modified", "location",
        "pragma", "retry-after", "trailer", "transfer-encoding", "upgrade", "vary", "via",
        "www-authenticate", "link", "set-cookie",
        # CORS.
        "access-control-allow-origin", "access-control-allow-credentials",
        "access-control-allow-headers", "access-control-allow-methods",
        "access-control-expose-headers", "access-control-max-age",
        # Security headers, including those this resource adds.
        "strict-transport-security", "x-frame-options", "x-content-type-options",
        "referrer-policy", "permissions-policy", "feature-policy", "content-security-policy",
        "content-security-policy-report-only", "cross-origin-embedder-policy",
        "cross-origin-opener-policy", "cross-origin-resource-policy", "clear-site-data",
        # WebSocket handshake and gRPC.
        "sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions",
        "grpc-status", "grpc-message", "grpc-encoding", "grpc-accept-encoding",
    }
)  # fmt: skip
"""Response headers the response allow-list forwards when its `standardHeaders` is set."""

PROTECTED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "content-type"})
"""Never removed by an allow-list or a rule, on either side: without them a message cannot be
framed or routed. HTTP/2 pseudo-headers (`:path`, `:status`, ...) and Envoy's own `x-envoy-*`
headers (which ext_proc may not touch anyway) are protected too."""

ALTERNATIVE_FORWARDED_HEADERS = (
    "forwarded", "x-forwarded", "x-real-ip", "x-client-ip", "true-client-ip",
    "x-originating-ip", "x-remote-ip", "x-remote-addr", "x-cluster-client-ip", "client-ip",
    "x-forwarded-server", "x-forwarded-by", "x-host", "x-original-forwarded-for",
    "cf-connecting-ip", "fastly-client-ip", "x-proxyuser-ip", "x-coming-from", "x-true-ip",
)  # fmt: skip
"""Client-address headers other than the `X-Forwarded-For/Proto/Host` Envoy maintains: a client
can send any of them to make an application believe it comes from elsewhere."""

SERVER_LEAKAGE_HEADERS = (
    "server",
    "x-server",
    "x-backend-server",
    "x-served-by",
    "x-powered-by-server",
)
"""`informationLeakage.server`: headers naming the server software or the machine."""

APPLICATION_LEAKAGE_HEADERS = (
    "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator", "x-runtime",
    "x-version", "x-owa-version", "x-drupal-cache", "x-drupal-dynamic-cache",
    "microsoftsharepointteamservices", "x-sharepointhealthscore", "x-sourcefiles",
    "x-mod-pagespeed", "x-page-speed", "x-turbo-charged-by",
)  # fmt: skip
"""`informationLeakage.application`: headers naming frameworks, runtimes and their versions."""

_FEATURES = ("accelerometer", "camera", "geolocation", "gyroscope", "magnetometer",
             "microphone", "payment", "usb")  # fmt: skip

BUILTIN_RESPONSE_HEADERS: dict[str, tuple[str, str]] = {
    # One year, the minimum HSTS preload lists accept; subdomains only with `hstsPreload`,
    # because covering them is a decision about other applications.
    "hsts": ("strict-transport-security", "max-age=31536000"),
    # SAMEORIGIN rather than DENY: applications framing their own pages keep working.
    "xFrameOptions": ("x-frame-options", "SAMEORIGIN"),
    "xContentTypeOptions": ("x-content-type-options", "nosniff"),
    # No Referer to other origins, full Referer within the application.
    "referrerPolicy": ("referrer-policy", "same-origin"),
    "permissionsPolicy": ("permissions-policy", ", ".join(f"{f}=(self)" for f in _FEATURES)),
    "featurePolicy": ("feature-policy", "; ".join(f"{f} 'self'" for f in _FEATURES)),
    # Same origin for everything but images, which may come from anywhere.
    "csp": ("content-security-policy", "default-src 'self'; img-src *"),
}
"""`response.add.builtIn`: header and value per flag, each added only if the upstream did not
set the header."""

HSTS_PRELOAD = "max-age=31536000; includeSubDomains; preload"
"""The HSTS value with `hstsPreload` (the preload list requires includeSubDomains)."""

AUTH_SCHEMES = ("ntlm", "negotiate", "basic")
"""`response.remove.builtIn.auth` flags, each named after the WWW-Authenticate scheme it removes."""

PENDING_PREFIX = "x-airlock-pending-add-"
"""Additions the Lua filter completes: Envoy evaluates the value into this header, the Lua moves
it into place after its removals (see `_ResponsePlan`)."""

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_OPERATOR = re.compile(r"%([A-Z][A-Z_]*)(?:\(([^()\s\"]+)\)(?::(\d+))?)?%")
_LUA_KINDS = ("exact", "prefix", "suffix", "contains")

# --- Model --------------------------------------------------------------------------------------


@dataclass(slots=True)
class HeaderChanges:
    """Header mutations in ext_proc form: remove these names, then apply `set` in order."""

    remove: list[str] = field(default_factory=list)
    set: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, value, overwrite)

    def __bool__(self) -> bool:
        return bool(self.remove or self.set)


@dataclass(slots=True)
class HeaderMatch:
    """One HeaderMatcher: a name and/or a value matcher; names always ignore case."""

    name: StringMatcher | None
    value: StringMatcher | None

    def __call__(self, name: str, value: str) -> bool:
        return (self.name is None or self.name(name)) and (self.value is None or self.value(value))

    def exact_name(self) -> str | None:
        """The header name when this matcher selects by exact name alone (Envoy can do that)."""
        if self.value is None and self.name is not None and self.name.kind == "exact":
            # An invalid name would make Envoy refuse the route; it can never match anyway.
            operand = str(self.name.operand)
            return operand if _TOKEN.match(operand) else None
        return None

    def matchers(self) -> list[StringMatcher]:
        return [m for m in (self.name, self.value) if m is not None]


@dataclass(slots=True)
class MatchRule:
    """A custom allow or remove rule."""

    name: str
    headers: list[HeaderMatch]
    conditions: RequestConditions | None

    def applies(self, ctx: RequestContext | None) -> bool:
        # Without a request (pure response checks), conditional rules cannot be decided.
        return self.conditions is None or (ctx is not None and self.conditions(ctx))

    def matches(self, name: str, value: str) -> bool:
        return any(h(name, value) for h in self.headers)


@dataclass(slots=True)
class AddRule:
    name: str
    headers: list[tuple[str, str]]  # (lower-case name, value with command operators)
    overwrite: bool
    conditions: RequestConditions | None
    path: str = ""  # field path of the rule, for errors

    def applies(self, ctx: RequestContext | None) -> bool:
        return self.conditions is None or (ctx is not None and self.conditions(ctx))


@dataclass(slots=True)
class Allow:
    """An allow-list; `None` in its place means all headers pass."""

    builtin: frozenset[str]
    rules: list[MatchRule]


def _is_protected(name: str) -> bool:
    return name.startswith((":", "x-envoy-")) or name in PROTECTED_HEADERS


@dataclass(slots=True)
class HeaderRewrites:
    """A loaded HeaderRewrites spec; see the module docstring for who runs which part."""

    mode: str  # Production | Integration | LogOnly
    request_allow: Allow | None
    request_remove_names: list[str]  # removals by exact name, Envoy's too
    request_remove: list[MatchRule]  # the other removal rules
    request_add: list[AddRule]
    response_allow: Allow | None
    response_remove_names: list[str]
    response_remove: list[MatchRule]
    cors: bool  # permissiveCors
    auth_schemes: frozenset[str]  # WWW-Authenticate schemes to remove
    response_add: list[AddRule]

    @property
    def enforced(self) -> bool:
        """False in LogOnly: the sidecar computes and logs changes but must not apply them."""
        return self.mode != "LogOnly"

    @property
    def sidecar_response_headers(self) -> bool:
        """True when the sidecar, not Envoy and Lua, rewrites response headers: for rules Lua
        cannot run, and in Integration/LogOnly where the sidecar logs each change."""
        allow_rules = self.response_allow.rules if self.response_allow else []
        rules: list[MatchRule | AddRule] = [*allow_rules, *self.response_remove, *self.response_add]
        return self.mode != "Production" or any(_needs_sidecar(rule) for rule in rules)

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None, path: str = "spec") -> HeaderRewrites:
        data = HEADER_REWRITES_SPEC.load(spec, path)
        req, resp = data["request"], data["response"]
        rp, sp = f"{path}.request", f"{path}.response"
        remove_builtin = resp["remove"]["builtIn"]
        leakage = remove_builtin["informationLeakage"]
        forwarded = req["remove"]["builtIn"]["alternativeForwardedHeaders"]
        request_remove = _match_rules(req["remove"].get("custom", []))
        response_remove = _match_rules(resp["remove"].get("custom", []))
        leak_names = [
            *(SERVER_LEAKAGE_HEADERS if leakage["server"] else ()),
            *(APPLICATION_LEAKAGE_HEADERS if leakage["application"] else ()),
        ]
        rewrites = cls(
            mode=data["settings"]["operationalMode"],
            request_allow=_allow(req["allow"], request=True),
            request_remove_names=[
                *(ALTERNATIVE_FORWARDED_HEADERS if forwarded else ()),
                *_native_names(request_remove),
            ],
            request_remove=[r for r in request_remove if _exact_names(r) is None],
            request_add=_add_rules(req["add"].get("custom", []), f"{rp}.add.custom"),
            response_allow=_allow(resp["allow"], request=False),
            response_remove_names=leak_names + _native_names(response_remove),
            response_remove=[r for r in response_remove if _exact_names(r) is None],
            cors=remove_builtin["permissiveCors"],
            auth_schemes=frozenset(s for s in AUTH_SCHEMES if remove_builtin["auth"][s]),
            response_add=_builtin_adds(resp["add"]["builtIn"])
            + _add_rules(resp["add"].get("custom", []), f"{sp}.add.custom"),
        )
        rewrites._check_sidecar_values()
        return rewrites

    def _check_sidecar_values(self) -> None:
        """Values the sidecar adds can use only the command operators it can evaluate."""
        sidecar_adds = [r for r in self.request_add if r.conditions is not None]
        if self.sidecar_response_headers and self.enforced:
            sidecar_adds += self.response_add
        for rule in sidecar_adds:
            for j, (_, value) in enumerate(rule.headers):
                for match in _OPERATOR.finditer(value.replace("%%", "")):
                    if match[1] not in ("REQ", "RESP"):
                        raise PolicyError(
                            f"{rule.path}.headers[{j}].value",
                            f"command operator %{match[1]}% is not supported where the sidecar "
                            "adds the header (request conditions or response rules Envoy cannot "
                            "run); supported: %%, %REQ(name)%, %RESP(name)%",
                        )

    # --- Request side: the sidecar ------------------------------------------------------------

    def request_changes(
        self, headers: Sequence[tuple[str, str]], ctx: RequestContext
    ) -> HeaderChanges:
        """What the sidecar changes in the request-headers phase: the allow-list, all removals
        (those Envoy also does natively included, so conditional additions see the final set)
        and the additions under request conditions. Unconditional additions are Envoy's
        (`request_headers_to_add`), applied after the sidecar."""
        entries = [(name.lower(), value) for name, value in headers]
        remove_rules = [r for r in self.request_remove if r.applies(ctx)]
        names = frozenset(self.request_remove_names)

        def keep(name: str, value: str) -> bool:
            if _is_protected(name):
                return True
            if self.request_allow and not _allowed(self.request_allow, name, value, ctx):
                return False
            return name not in names and not any(r.matches(name, value) for r in remove_rules)

        adds = [r for r in self.request_add if r.conditions is not None and r.applies(ctx)]
        return _changes(entries, keep, adds, lambda v: _expand(v, ctx.headers, ()))

    # --- Response side: reference semantics ---------------------------------------------------

    def response_changes(
        self, headers: Sequence[tuple[str, str]], ctx: RequestContext | None = None
    ) -> HeaderChanges:
        """Everything done to upstream response headers: allow-list, removals, additions.

        `ctx` is the request, for rules with request conditions; without it those rules do not
        apply. Values keep Envoy command operators other than `%%`, `%REQ()%` and `%RESP()%`
        as written (Envoy evaluates them when it adds the header natively)."""
        entries = [(name.lower(), value) for name, value in headers]
        remove_rules = [r for r in self.response_remove if r.applies(ctx)]
        names = frozenset(self.response_remove_names)
        cors_star = self.cors and ("access-control-allow-origin", "*") in entries

        def keep(name: str, value: str) -> bool:
            if _is_protected(name):
                return True
            if self.response_allow and not _allowed(self.response_allow, name, value, ctx):
                return False
            if name in names or (cors_star and name in _CORS_HEADERS):
                return False
            if name == "www-authenticate" and challenge_schemes(value) & self.auth_schemes:
                return False
            return not any(r.matches(name, value) for r in remove_rules)

        adds = [r for r in self.response_add if r.applies(ctx)]
        request_headers = ctx.headers if ctx is not None else ()
        return _changes(entries, keep, adds, lambda v: _expand(v, request_headers, entries))

    # --- Envoy --------------------------------------------------------------------------------

    def envoy_native(self) -> dict[str, Any]:
        """Route-level fields in Envoy v3 JSON form, plus the per-route Lua source.

        Keys: `request_headers_to_remove`, `request_headers_to_add`,
        `response_headers_to_remove`, `response_headers_to_add` (route fields as they are),
        `lua_response_source` (the Lua filter's per-route `source_code`, or None when nothing
        needs Lua) and `sidecar_response_headers` (whether the sidecar must see response
        headers). The listener needs `server_header_transformation: PASS_THROUGH`, otherwise
        Envoy writes its own Server header after the removal."""
        native: dict[str, Any] = {
            "request_headers_to_remove": [],
            "request_headers_to_add": [],
            "response_headers_to_remove": [],
            "response_headers_to_add": [],
            "lua_response_source": None,
            "sidecar_response_headers": self.sidecar_response_headers,
        }
        if not self.enforced:
            return native
        native["request_headers_to_remove"] = _dedupe(
            n for n in self.request_remove_names if not _is_protected(n)
        )
        native["request_headers_to_add"] = [
            _header_option(name, value, rule.overwrite)
            for rule in self.request_add
            if rule.conditions is None
            for name, value in rule.headers
        ]
        plan = _ResponsePlan(self)
        native["response_headers_to_remove"] = plan.removals()
        native["response_headers_to_add"] = plan.additions()
        native["lua_response_source"] = plan.lua_source()
        return native

    def route_fields(self, lua_filter: str = "envoy.filters.http.lua") -> dict[str, Any]:
        """`envoy_native()` as fields to merge into an Envoy route (v3 JSON), the Lua filter's
        per-route configuration included (disabled where the route needs no Lua)."""
        native = self.envoy_native()
        fields = {
            key: native[key]
            for key in (
                "request_headers_to_remove",
                "request_headers_to_add",
                "response_headers_to_remove",
                "response_headers_to_add",
            )
            if native[key]
        }
        lua: dict[str, Any] = {"@type": _LUA_PER_ROUTE}
        if native["lua_response_source"] is None:
            lua["disabled"] = True
        else:
            lua["source_code"] = {"inline_string": native["lua_response_source"]}
        fields["typed_per_filter_config"] = {lua_filter: lua}
        return fields


_LUA_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute"
_CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials")


# --- Loading ------------------------------------------------------------------------------------


def _check_header_name(name: str, path: str) -> str:
    # Envoy refuses a whole route configuration over one invalid header name; refuse it here.
    if not _TOKEN.match(name):
        raise PolicyError(path, f"not a valid HTTP header name: {name!r}")
    return name.lower()


def _conditions(rule: dict[str, Any]) -> RequestConditions | None:
    spec = rule.get("requestConditions")
    return RequestConditions(spec) if spec is not None else None


def _match_rules(rules: list[dict[str, Any]]) -> list[MatchRule]:
    return [
        MatchRule(
            name=rule["name"],
            headers=[
                HeaderMatch(
                    StringMatcher(h["name"], force_ignore_case=True) if "name" in h else None,
                    StringMatcher(h["value"]) if "value" in h else None,
                )
                for h in rule["headers"]
            ],
            conditions=_conditions(rule),
        )
        for rule in rules
    ]


def _add_rules(rules: list[dict[str, Any]], path: str) -> list[AddRule]:
    return [
        AddRule(
            name=rule["name"],
            headers=[
                (_check_header_name(h["name"], f"{path}[{i}].headers[{j}].name"), h["value"])
                for j, h in enumerate(rule["headers"])
            ],
            overwrite=rule["mode"] == "OverwriteOrAdd",
            conditions=_conditions(rule),
            path=f"{path}[{i}]",
        )
        for i, rule in enumerate(rules)
    ]


def _builtin_adds(flags: dict[str, bool]) -> list[AddRule]:
    headers = [header for flag, header in BUILTIN_RESPONSE_HEADERS.items() if flags[flag]]
    if flags["hsts"] and flags["hstsPreload"]:
        headers = [(n, HSTS_PRELOAD if n == "strict-transport-security" else v) for n, v in headers]
    # `%` is literal in these values; escape it for Envoy's formatter (none contain one today).
    headers = [(n, v.replace("%", "%%")) for n, v in headers]
    return [AddRule(name, [(name, value)], False, None, "builtIn") for name, value in headers]


def _allow(spec: dict[str, Any], request: bool) -> Allow | None:
    if "matchingHeaders" not in spec:
        return None  # allHeaders
    matching = spec["matchingHeaders"]
    builtin = matching["builtIn"]
    names: frozenset[str] = frozenset()
    if builtin["standardHeaders"]:
        names |= STANDARD_REQUEST_HEADERS if request else STANDARD_RESPONSE_HEADERS
    if builtin.get("tracingHeaders"):
        names |= TRACING_HEADERS
    return Allow(names, _match_rules(matching.get("custom", [])))


def _exact_names(rule: MatchRule) -> list[str] | None:
    """The names of an unconditional rule selecting by exact names only, a removal Envoy can do
    itself; None for any other rule."""
    names = [h.exact_name() for h in rule.headers]
    if rule.conditions is not None or None in names:
        return None
    return [n for n in names if n is not None]


def _native_names(rules: list[MatchRule]) -> list[str]:
    return [name for rule in rules for name in _exact_names(rule) or ()]


def _needs_sidecar(rule: MatchRule | AddRule) -> bool:
    """Rules Lua cannot run: request conditions, RE2 regexes, or case folding beyond ASCII
    (Lua's `lower` folds ASCII only)."""
    if rule.conditions is not None:
        return True
    if isinstance(rule, AddRule):
        return False
    return any(
        m.kind not in _LUA_KINDS or (m.ignore_case and not str(m.operand).isascii())
        for h in rule.headers
        for m in h.matchers()
    )


# --- Evaluation ---------------------------------------------------------------------------------


def _allowed(allow: Allow, name: str, value: str, ctx: RequestContext | None) -> bool:
    return name in allow.builtin or any(
        r.applies(ctx) and r.matches(name, value) for r in allow.rules
    )


def challenge_schemes(value: str) -> set[str]:
    """The auth schemes of the challenges in one WWW-Authenticate line, lower-case.

    A challenge starts at the line start or after a comma with a token followed by the end, a
    comma or whitespace and something other than `=` (which would make it an auth-param, as in
    `realm="x"`). The Lua filter mirrors this function exactly."""
    schemes = set()
    for piece in value.split(","):
        piece = piece.lstrip(" \t")
        token = _leading_token(piece)
        rest = piece[len(token) :]
        if token and (not rest.strip(" \t") or (rest[0] in " \t" and rest.lstrip(" \t")[0] != "=")):
            schemes.add(token.lower())
    return schemes


def _leading_token(text: str) -> str:
    end = 0
    while end < len(text) and _TOKEN.match(text[end]):
        end += 1
    return text[:end]


def _expand(
    value: str, request: Sequence[tuple[str, str]], response: Sequence[tuple[str, str]]
) -> str:
    """Evaluate the command operators the sidecar supports: `%%`, `%REQ(name)%`,
    `%RESP(name)%` (with optional `:N` truncation); others stay as written. A missing header
    gives an empty value, so the header is not added at all."""

    def lookup(headers: Sequence[tuple[str, str]], name: str) -> str:
        return next((v for n, v in headers if n.lower() == name.lower()), "")

    def replace(match: re.Match[str]) -> str:
        operator, arg, length = match[1], match[2], match[3]
        if operator not in ("REQ", "RESP") or arg is None:
            return match[0]
        text = lookup(request if operator == "REQ" else response, arg)
        return text[: int(length)] if length else text

    parts = value.split("%%")
    return "%".join(_OPERATOR.sub(replace, part) for part in parts)


def _changes(
    entries: list[tuple[str, str]],
    keep: Callable[[str, str], bool],
    adds: Iterable[AddRule],
    expand: Callable[[str], str],
) -> HeaderChanges:
    """Mutations that turn `entries` into: the entries `keep` accepts, then the additions."""
    verdicts = [(n, v, keep(n, v)) for n, v in entries]
    touched = _dedupe(n for n, _, kept in verdicts if not kept)
    changes = HeaderChanges(remove=touched)
    changes.set = [(n, v, False) for n, v, kept in verdicts if kept and n in touched]
    present = {n for n, _, kept in verdicts if kept}
    for rule in adds:
        for name, raw in rule.headers:
            value = expand(raw)
            # Envoy skips a header whose value comes out empty (keep_empty_value: false).
            if value and (rule.overwrite or name not in present):
                changes.set.append((name, value, rule.overwrite))
                present.add(name)
    return changes


def apply_changes(
    headers: Sequence[tuple[str, str]], changes: HeaderChanges
) -> list[tuple[str, str]]:
    """Apply HeaderChanges to a header list the way Envoy applies an ext_proc mutation."""
    removed = set(changes.remove)
    out = [(n.lower(), v) for n, v in headers if n.lower() not in removed]
    for name, value, overwrite in changes.set:
        if overwrite:
            out = [(n, v) for n, v in out if n != name]
        out.append((name, value))
    return out


def _dedupe(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _header_option(name: str, value: str, overwrite: bool) -> dict[str, Any]:
    return {
        "header": {"key": name, "value": value},
        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD" if overwrite else "ADD_IF_ABSENT",
    }


# --- Envoy response plan and Lua ----------------------------------------------------------------


class _ResponsePlan:
    """Splits the response rules between Envoy's route fields and the Lua filter.

    Envoy applies a route's removals, then its additions, before any filter sees the response;
    the Lua runs after. Removals by name commute with everything before the additions, so they
    stay native. An addition whose header the Lua might remove would happen too early natively:
    Envoy evaluates its value into a pending header and the Lua completes the addition after its
    removals, keeping the order allow-list, removals, additions.
    """

    def __init__(self, rewrites: HeaderRewrites) -> None:
        self.rw = rewrites
        self.sidecar = rewrites.sidecar_response_headers
        # When the sidecar does the response side, Envoy keeps only the name removals.
        self.lua_needed = not self.sidecar and bool(
            rewrites.response_allow
            or rewrites.response_remove
            or rewrites.cors
            or rewrites.auth_schemes
        )
        adds = [] if self.sidecar else rewrites.response_add
        self.native_adds = [
            (n, v, r.overwrite) for r in adds for n, v in r.headers if not self._lua_may_remove(n)
        ]
        self.pending = [
            (f"{PENDING_PREFIX}{i}", n, v, r.overwrite)
            for i, (r, n, v) in enumerate(
                (r, n, v) for r in adds for n, v in r.headers if self._lua_may_remove(n)
            )
        ]

    def _lua_may_remove(self, name: str) -> bool:
        rw = self.rw
        if not self.lua_needed or _is_protected(name):
            return False
        if rw.response_allow and not self._always_allowed(name):
            return True
        if (rw.cors and name in _CORS_HEADERS) or (rw.auth_schemes and name == "www-authenticate"):
            return True
        return any(h.name is None or h.name(name) for r in rw.response_remove for h in r.headers)

    def _always_allowed(self, name: str) -> bool:
        allow = self.rw.response_allow
        assert allow is not None
        return name in allow.builtin or any(
            h.value is None and h.name is not None and h.name(name)
            for r in allow.rules
            for h in r.headers
        )

    def removals(self) -> list[str]:
        names = [n for n in self.rw.response_remove_names if not _is_protected(n)]
        # An upstream must not smuggle a value into a pending addition.
        return _dedupe([*names, *(p[0] for p in self.pending)])

    def additions(self) -> list[dict[str, Any]]:
        options = [_header_option(n, v, o) for n, v, o in self.native_adds]
        options += [_header_option(p, v, True) for p, _, v, _ in self.pending]
        return options

    def lua_source(self) -> str | None:
        if not self.lua_needed:
            return None
        rw = self.rw
        allow = "nil"
        if rw.response_allow is not None:
            names = sorted(rw.response_allow.builtin)
            allow = _lua({"names": names, "rules": _lua_rules(rw.response_allow.rules)})
        config = {
            "remove": _lua_rules(rw.response_remove),
            "cors": rw.cors,
            "auth": sorted(rw.auth_schemes),
            "pending": [[p, n, o] for p, n, _, o in self.pending],
            "protected": sorted(PROTECTED_HEADERS),
        }
        return f"{_LUA_HEADER}local ALLOW = {allow}\nlocal C = {_lua(config)}\n{_LUA_BODY}"


def _lua_rules(rules: list[MatchRule]) -> list[Any]:
    def matcher(m: StringMatcher | None) -> Any:
        return None if m is None else [m.kind, m.operand, m.ignore_case]

    return [{"n": matcher(h.name), "v": matcher(h.value)} for r in rules for h in r.headers]


def _lua(value: Any) -> str:
    """A Python value as a Lua literal (lists and dicts become tables; None becomes `false`,
    since Lua tables cannot hold nil)."""
    if value is None or value is False:
        return "false"
    if value is True:
        return "true"
    if isinstance(value, str):
        # Printable ASCII as is, every other byte as a decimal escape (valid in Lua 5.1).
        return '"' + "".join(_lua_char(c) for c in value) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def _lua_char(char: str) -> str:
    if " " <= char <= "~" and char not in '"\\':
        return char
    return "".join(f"\\{byte:03d}" for byte in char.encode("utf-8"))


_LUA_HEADER = """\
-- Generated from a HeaderRewrites resource (airlock_microgateway.header_rewrites): response
-- rewrites Envoy cannot do by header name. Mirrors HeaderRewrites.response_changes().
"""

_LUA_BODY = """\
local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local ALLOWED = ALLOW and set_of(ALLOW.names)
local AUTH = set_of(C.auth)
local PROTECTED = set_of(C.protected)

local function match(m, s)
  if not m then return true end
  local kind, op = m[1], m[2]
  if m[3] then s = s:lower() end
  if kind == "exact" then return s == op end
  if kind == "prefix" then return s:sub(1, #op) == op end
  if kind == "suffix" then return #s >= #op and s:sub(-#op) == op end
  return s:find(op, 1, true) ~= nil
end

local function any_rule(rules, name, value)
  for _, r in ipairs(rules) do
    if match(r.n, name) and match(r.v, value) then return true end
  end
  return false
end

-- Schemes of the challenges in a WWW-Authenticate line (a token not followed by "=").
local function has_removed_scheme(value)
  for piece in (value .. ","):gmatch("([^,]*),") do
    local token, rest = piece:match("^[ \\t]*([%w!#$%%&'*+.^_`|~-]+)(.*)$")
    if token and AUTH[token:lower()] and
        (rest:match("^[ \\t]*$") or rest:match("^[ \\t]+[^ \\t=]")) then
      return true
    end
  end
  return false
end

local function keep(name, value, cors_star)
  if name:sub(1, 1) == ":" or name:sub(1, 8) == "x-envoy-" or PROTECTED[name] then
    return true
  end
  if ALLOW and not (ALLOWED[name] or any_rule(ALLOW.rules, name, value)) then return false end
  if cors_star and (name == "access-control-allow-origin"
      or name == "access-control-allow-credentials") then
    return false
  end
  if name == "www-authenticate" and has_removed_scheme(value) then return false end
  return not any_rule(C.remove, name, value)
end

function envoy_on_response(handle)
  local h = handle:headers()
  -- Additions Envoy evaluated into pending headers; they complete after the removals.
  local pending = {}
  for i, p in ipairs(C.pending) do
    pending[i] = h:get(p[1])
    h:remove(p[1])
  end
  local entries, cors_star = {}, false
  for name, value in pairs(h) do
    entries[#entries + 1] = {name, value}
    if C.cors and name == "access-control-allow-origin" and value == "*" then cors_star = true end
  end
  -- The header API removes by name: drop a name, then put back the values that stay.
  local touched = {}
  for _, e in ipairs(entries) do
    if not keep(e[1], e[2], cors_star) then touched[e[1]] = true end
  end
  for name in pairs(touched) do h:remove(name) end
  for _, e in ipairs(entries) do
    if touched[e[1]] and keep(e[1], e[2], cors_star) then h:add(e[1], e[2]) end
  end
  for i, p in ipairs(C.pending) do
    local name, value = p[2], pending[i]
    if value and (p[3] or h:get(name) == nil) then
      h:remove(name)
      h:add(name, value)
    end
  end
end
"""
