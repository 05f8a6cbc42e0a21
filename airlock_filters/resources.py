"""Shapes and defaults of the `microgateway.airlock.com/v1alpha1` resources the engine reads.

Written once here with the schema language of `spec.py`; the operator renders its CRDs from the
same objects.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

import re2

from airlock_filters.errors import PolicyError
from airlock_filters.spec import (
    _BINARY,
    _DECIMAL,
    _QUANTITY_RE,
    Array,
    Bool,
    Checked,
    Int,
    KeyedList,
    Map,
    Object,
    Opaque,
    Quantity,
    Rule,
    Schema,
    Str,
    document,
)

API_GROUP = "microgateway.airlock.com"
API_VERSION = f"{API_GROUP}/v1alpha1"

RULE_KEYS = (
    "BOT", "ENCODING", "EXPLOIT", "HPP", "HTML", "IDOR", "LDAP", "NOSQL", "OGNL", "PHP",
    "PROTOCOL", "SANITY", "SCANNING", "SQL", "SSRF", "TEMPLATE", "UNIXCMD", "WINCMD", "XSS",
)  # fmt: skip
LEVELS = ("Unfiltered", "Basic", "Standard", "Strict")
MODES = ("Block", "LogOnly")
FIELD_TYPES = ("Header", "Parameter", "Path", "PathSegment", "JSON", "GraphQL")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE")
CUSTOM_RULE_KEY = r"^[A-Z][A-Z0-9_]*$"


class Regex(Str):
    """An RE2 regular expression, checked at load time so a bad one is named, not crashed on."""

    def load(self, value: Any, path: str) -> str:
        text = super().load(value, path)
        try:
            re2.compile(text)
        except Exception as exc:  # pyre2 raises several unrelated types
            raise PolicyError(path, f"not a valid RE2 regular expression: {exc}") from None
        return text


class Cidr(Str):
    def load(self, value: Any, path: str) -> str:
        text = super().load(value, path)
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PolicyError(path, f"not a CIDR range: {text!r}") from None
        return text


def _matcher(ignore_case: bool = True) -> Object:
    fields: dict[str, Schema] = {
        "exact": Str(min_length=1, max_length=1024),
        "prefix": Str(min_length=1, max_length=1024),
        "suffix": Str(min_length=1, max_length=1024),
        "contains": Str(min_length=1, max_length=1024),
        "regex": Regex(min_length=1, max_length=256, description="RE2 syntax."),
    }
    if ignore_case:
        fields["ignoreCase"] = Bool(default=False)
    return Object(
        {"matcher": Object(fields, exactly_one=["exact", "prefix", "suffix", "regex", "contains"])},
        required=["matcher"],
    )


def _name_value(name_ignore_case: bool = True, **extra: Schema) -> Object:
    return Object(
        {"name": _matcher(name_ignore_case), "value": _matcher(), **extra},
        at_least_one=["name", "value"],
    )


def _request_conditions() -> Object:
    return Object(
        {
            "path": _matcher(),
            "header": _name_value(name_ignore_case=False),
            "method": Array(Str(enum=METHODS), max_items=16),
            "remoteIP": Object(
                {
                    "cidrRanges": Array(Cidr(min_length=1, max_length=49), 1, 1024),
                    "invert": Bool(default=False),
                },
                required=["cidrRanges"],
            ),
            "mediaType": _matcher(ignore_case=False),
            "invert": Bool(default=False),
        },
        at_least_one=["path", "header", "method", "remoteIP", "mediaType"],
    )


def _graphql() -> Object:
    return Object(
        {"field": _matcher(), "argument": _matcher(), "value": _matcher()},
        at_least_one=["field", "argument", "value"],
    )


_SOURCE = Str(default="Any", enum=("Query", "Post", "Any"))
_BLOCKED_DATA_KINDS = ["parameter", "header", "path", "pathSegment", "json", "graphQL"]
_SEGMENTS = Object({"index": Int(minimum=0)}, exactly_one=["index"])


def _blocked_data(custom: bool) -> Object:
    if custom:
        json = Object({"key": _matcher(), "value": _matcher()}, exactly_one=["key", "value"])
        path_segment = Object({"segments": _SEGMENTS, "value": _matcher()}, required=["value"])
        parameter = _name_value()
    else:
        json = Object(
            {
                "jsonPath": Str(min_length=1, max_length=2048),
                "key": _matcher(),
                "value": _matcher(),
            },
            at_most_one=["key", "value"],
            at_least_one=["jsonPath", "key", "value"],
        )
        path_segment = Object(
            {"segments": _SEGMENTS, "value": _matcher()}, at_least_one=["segments", "value"]
        )
        parameter = _name_value(source=_SOURCE)
    return Object(
        {
            "parameter": parameter,
            "header": _name_value(name_ignore_case=False),
            "path": _matcher(),
            "pathSegment": path_segment,
            "json": json,
            "graphQL": _graphql(),
        },
        exactly_one=_BLOCKED_DATA_KINDS,
    )


_RULE_KEY_LIST = Array(Str(enum=RULE_KEYS), min_items=1, max_items=32)

DENY_RULES_SPEC = Object(
    {
        "request": Object(
            {
                "builtIn": Object(
                    {
                        "settings": Object(
                            {
                                "level": Str(default="Standard", enum=LEVELS),
                                "threatHandlingMode": Str(default="Block", enum=MODES),
                            },
                            filled=True,
                        ),
                        "overrides": Array(
                            Object(
                                {
                                    "conditions": Object(
                                        {
                                            "ruleKeys": _RULE_KEY_LIST,
                                            "types": Array(Str(enum=FIELD_TYPES), 1, 8),
                                        }
                                    ),
                                    "settings": Object(
                                        {
                                            "level": Str(enum=LEVELS),
                                            "threatHandlingMode": Str(enum=MODES),
                                        }
                                    ),
                                }
                            ),
                            max_items=128,
                        ),
                        "exceptions": Array(
                            Object(
                                {
                                    "ruleKeys": _RULE_KEY_LIST,
                                    "blockedData": _blocked_data(custom=False),
                                    "requestConditions": _request_conditions(),
                                },
                                at_least_one=["blockedData", "requestConditions"],
                            ),
                            max_items=4096,
                        ),
                    },
                    filled=True,
                ),
                "custom": Object(
                    {
                        "rules": Array(
                            Object(
                                {
                                    "ruleKey": Str(
                                        pattern=CUSTOM_RULE_KEY, min_length=1, max_length=64
                                    ),
                                    "blockData": _blocked_data(custom=True),
                                    "requestConditions": _request_conditions(),
                                    "threatHandlingMode": Str(default="Block", enum=MODES),
                                },
                                required=["blockData", "ruleKey"],
                            ),
                            max_items=256,
                        )
                    },
                    filled=True,
                ),
            },
            filled=True,
        )
    },
    filled=True,
)

_LIMIT_EXCEPTION = Object(
    {
        "length": Object(
            {
                "parameter": Object({"name": _matcher(), "source": _SOURCE}, required=["name"]),
                "json": Object(
                    {"jsonPath": Str(min_length=1, max_length=2048)}, required=["jsonPath"]
                ),
                "graphQL": _graphql(),
            },
            exactly_one=["parameter", "json", "graphQL"],
        ),
        "requestConditions": _request_conditions(),
    },
    exactly_one=["length"],
)

# Not defaulted in the CRD (the API server would then add `limited` next to a user's `unlimited`):
# load_limits fills it in when neither is given.
LIMITED_SPEC = Object(
    {
        "general": Object(
            {
                "bodySize": Quantity("100Mi"),
                "pathLength": Quantity("1Ki"),
            },
            filled=True,
        ),
        "parameter": Object(
            {
                "bodySize": Quantity("100Ki"),
                "count": Int(default=128, minimum=0),
                "nameLength": Quantity("128"),
                "valueLength": Quantity("8Ki"),
            },
            filled=True,
        ),
        "json": Object(
            {
                "bodySize": Quantity("100Ki"),
                "nestingDepth": Int(default=100, minimum=0),
                "keyCount": Int(default=250, minimum=0),
                "elementCount": Int(default=10000, minimum=0),
                "keyLength": Quantity("128"),
                "valueLength": Quantity("8Ki"),
            },
            filled=True,
        ),
        "multipart": Object({"bodySize": Quantity("100Mi")}, filled=True),
        "graphQL": Object(
            {
                "querySize": Quantity("1Ki"),
                "nestingDepth": Int(default=10, minimum=0),
                "valueLength": Quantity("256"),
            },
            filled=True,
        ),
        "exceptions": Array(_LIMIT_EXCEPTION, max_items=4096),
    },
)

LIMITS_SPEC = Object(
    {
        "request": Object(
            {
                "limited": LIMITED_SPEC,
                "unlimited": Object({}),
            },
            at_most_one=["unlimited", "limited"],
            filled=True,
        ),
        "settings": Object({"threatHandlingMode": Str(default="Block", enum=MODES)}, filled=True),
    },
    filled=True,
)

_PARSER_TOGGLE = {
    "form": ".*urlencoded.*",
    "json": ".*json.*",
    "multipart": ".*multipart.*",
}

PARSER_SPEC = Object(
    {
        "request": Object(
            {
                "defaultContentType": Str(
                    default="application/x-www-form-urlencoded", min_length=1, max_length=128
                ),
                "parsers": Object(
                    {
                        name: Object(
                            {
                                "enable": Bool(default=True),
                                "mediaTypePattern": Regex(
                                    default=pattern, min_length=1, max_length=256
                                ),
                            },
                            filled=True,
                        )
                        for name, pattern in _PARSER_TOGGLE.items()
                    },
                    filled=True,
                ),
                "custom": Object(
                    {
                        "rules": Array(
                            Object(
                                {
                                    "action": Object(
                                        {
                                            "parse": Object(
                                                {
                                                    "json": Object({}),
                                                    "form": Object({}),
                                                    "multipart": Object({}),
                                                },
                                                exactly_one=["json", "form", "multipart"],
                                            ),
                                            "skip": Object({}),
                                        },
                                        exactly_one=["parse", "skip"],
                                    ),
                                    "requestConditions": _request_conditions(),
                                },
                                required=["action", "requestConditions"],
                            ),
                            max_items=4096,
                        )
                    },
                    filled=True,
                ),
            },
            filled=True,
        )
    },
    filled=True,
)

SPECS: dict[str, Schema] = {
    "DenyRules": DENY_RULES_SPEC,
    "Limits": LIMITS_SPEC,
    "Parser": PARSER_SPEC,
}


# --- HeaderRewrites ---------------------------------------------------------------------------

ADD_MODES = ("AddIfAbsent", "OverwriteOrAdd")
OPERATIONAL_MODES = ("Production", "Integration", "LogOnly")
# Header values may hold Envoy command operators (`%REQ(x-user)%`); a literal `%` is `%%`.
HEADER_VALUE_PATTERN = r'^[^%]*(%([A-Z][A-Z_]*(\([^()\s"]+\)(:\d+)?)?)?%[^%]*)*$'


class NamedList(Array):
    """A list of rules told apart by their unique `name` (a Kubernetes list map keyed by name)."""

    def load(self, value: Any, path: str) -> list[Any]:
        items = super().load(value, path)
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item["name"] in seen:
                raise PolicyError(f"{path}[{i}].name", f"duplicate name {item['name']!r}")
            seen.add(item["name"])
        return items

    def openapi(self) -> dict[str, Any]:
        out = super().openapi()
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = ["name"]
        return out


class DefaultObject(Object):
    """An object whose absence means a given value, such as `allow: {matchingHeaders: {}}`.

    Unlike `filled`, which defaults to `{}`, this picks one branch of an either/or object, so
    the API server never fills in both branches.
    """

    def __init__(self, fields: dict[str, Schema], default: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(fields, **kwargs)
        self.default = default

    def default_value(self) -> Any:
        return self.load(self.default, "")

    def openapi(self) -> dict[str, Any]:
        return {**super().openapi(), "default": self.default}


def _header_rules(max_items: int = 128) -> NamedList:
    """custom allow/remove rules: named lists of header matchers under request conditions."""
    return NamedList(
        Object(
            {
                "name": Str(min_length=1, max_length=1024),
                "headers": Array(_name_value(name_ignore_case=False), 1, 64),
                "requestConditions": _request_conditions(),
            },
            required=["headers", "name"],
        ),
        min_items=1,
        max_items=max_items,
    )


def _add_rules() -> NamedList:
    return NamedList(
        Object(
            {
                "name": Str(min_length=1, max_length=1024),
                "headers": Array(
                    Object(
                        {
                            "name": Str(min_length=1, max_length=512),
                            "value": Str(max_length=8192, pattern=HEADER_VALUE_PATTERN),
                        },
                        required=["name", "value"],
                    ),
                    1,
                    64,
                ),
                "mode": Str(default="AddIfAbsent", enum=ADD_MODES),
                "requestConditions": _request_conditions(),
            },
            required=["headers", "name"],
        ),
        min_items=1,
        max_items=128,
    )


def _allow(default: dict[str, Any], builtin: dict[str, Schema]) -> DefaultObject:
    return DefaultObject(
        {
            "allHeaders": Object({}),
            "matchingHeaders": Object(
                {"builtIn": Object(builtin, filled=True), "custom": _header_rules()}
            ),
        },
        default=default,
        at_most_one=["allHeaders", "matchingHeaders"],
    )


HEADER_REWRITES_SPEC = Object(
    {
        "request": Object(
            {
                "allow": _allow(
                    {"matchingHeaders": {}},
                    {
                        "standardHeaders": Bool(default=True),
                        "tracingHeaders": Bool(default=False),
                    },
                ),
                "remove": Object(
                    {
                        "builtIn": Object(
                            {"alternativeForwardedHeaders": Bool(default=True)}, filled=True
                        ),
                        "custom": _header_rules(),
                    },
                    filled=True,
                ),
                "add": Object({"custom": _add_rules()}, filled=True),
            },
            filled=True,
        ),
        "response": Object(
            {
                "allow": _allow({"allHeaders": {}}, {"standardHeaders": Bool(default=False)}),
                "remove": Object(
                    {
                        "builtIn": Object(
                            {
                                "informationLeakage": Object(
                                    {
                                        "server": Bool(default=True),
                                        "application": Bool(default=True),
                                    },
                                    filled=True,
                                ),
                                "permissiveCors": Bool(default=True),
                                "auth": Object(
                                    {
                                        "ntlm": Bool(default=True),
                                        "negotiate": Bool(default=True),
                                        "basic": Bool(default=False),
                                    },
                                    filled=True,
                                ),
                            },
                            filled=True,
                        ),
                        "custom": _header_rules(),
                    },
                    filled=True,
                ),
                "add": Object(
                    {
                        "builtIn": Object(
                            {
                                "hsts": Bool(default=True),
                                "hstsPreload": Bool(default=False),
                                "xFrameOptions": Bool(default=True),
                                "xContentTypeOptions": Bool(default=True),
                                "referrerPolicy": Bool(default=True),
                                "permissionsPolicy": Bool(default=True),
                                "csp": Bool(default=False),
                                "featurePolicy": Bool(default=False),
                            },
                            filled=True,
                        ),
                        "custom": _add_rules(),
                    },
                    filled=True,
                ),
            },
            filled=True,
        ),
        "settings": Object(
            {"operationalMode": Str(default="Production", enum=OPERATIONAL_MODES)}, filled=True
        ),
    },
    filled=True,
)

SPECS["HeaderRewrites"] = HEADER_REWRITES_SPEC


# --- ContentSecurityPolicy -----------------------------------------------------------------------

GATEWAY_API_GROUP = "gateway.networking.k8s.io"
# Kubernetes name syntax, as the Gateway API writes it for groups, kinds and section names.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
GROUP_PATTERN = r"^$|" + DNS_SUBDOMAIN
KIND_PATTERN = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"


def _ref(what: str) -> Object:
    """A reference by name to another resource of this API in the policy's namespace."""
    return Object(
        {"name": Str(min_length=1, max_length=253, description=f"Name of the {what}.")},
        required=["name"],
        description=f"Selects the {what} resource to use, by name, in the same namespace.",
    )


def _target_key(ref: dict[str, Any]) -> tuple[str, str, str]:
    return (ref["group"], ref["kind"], ref["name"])


TARGET_REFS = Checked(
    KeyedList(
        Object(
            {
                "group": Str(
                    max_length=253,
                    pattern=GROUP_PATTERN,
                    description=f"API group of the target; must be {GATEWAY_API_GROUP}.",
                ),
                "kind": Str(
                    min_length=1,
                    max_length=63,
                    pattern=KIND_PATTERN,
                    description="Kind of the target; must be HTTPRoute.",
                ),
                "name": Str(
                    min_length=1, max_length=253, description="Name of the target HTTPRoute."
                ),
                # Our addition (Gateway API LocalPolicyTargetReferenceWithSectionName): manifests
                # without it mean the whole route, exactly as in the reference API.
                "sectionName": Str(
                    min_length=1,
                    max_length=253,
                    pattern=DNS_SUBDOMAIN,
                    description="Name of one rule of the HTTPRoute to attach to; "
                    "unset attaches to the whole route.",
                ),
            },
            required=["group", "kind", "name"],
            description="An HTTPRoute in the policy's namespace.",
        ),
        keys=["group", "kind", "name"],
        min_items=1,
        max_items=16,
        description="The HTTPRoutes (in the policy's namespace) this policy protects.",
    ),
    [
        Rule(
            "self.all(t, t.kind == 'HTTPRoute')",
            "TargetRef Kind must be: HTTPRoute",
            lambda refs: all(r["kind"] == "HTTPRoute" for r in refs),
        ),
        Rule(
            f"self.all(t, t.group == '{GATEWAY_API_GROUP}')",
            f"TargetRef Group must be {GATEWAY_API_GROUP}.",
            lambda refs: all(r["group"] == GATEWAY_API_GROUP for r in refs),
        ),
        Rule(
            "self.all(t1, self.exists_one(t2, "
            "t1.group == t2.group && t1.kind == t2.kind && t1.name == t2.name))",
            "Combination of name, group and kind must be unique for each TargetRef",
            lambda refs: len({_target_key(r) for r in refs}) == len(refs),
        ),
    ],
)

CONTENT_SECURITY_POLICY_SPEC = Object(
    {
        "targetRefs": TARGET_REFS,
        "secured": Object(
            {
                "parserRef": _ref("Parser"),
                "limitsRef": _ref("Limits"),
                "headerRewritesRef": _ref("HeaderRewrites"),
                "filter": Object(
                    {"denyRulesRef": _ref("DenyRules")},
                    description="Request filters; unset means the built-in deny rules.",
                ),
                "apiProtectionRef": _ref("APIProtection (reserved: not implemented yet)"),
                "csrfProtectionRef": _ref("CSRFProtection (reserved: not implemented yet)"),
            },
            description="Filter and rewrite the traffic of the target routes. A missing "
            "reference means the built-in defaults of that resource kind.",
        ),
        "unsecured": Object(
            {},
            description="Switch all WAF processing off for the target routes. Only for "
            "trusted traffic.",
        ),
    },
    required=["targetRefs"],
    # The reference allows neither (which means secured with all defaults) but not both.
    at_most_one=["secured", "unsecured"],
    description="Which routes are protected and with which DenyRules, Limits, Parser and "
    "HeaderRewrites.",
)
SPECS["ContentSecurityPolicy"] = CONTENT_SECURITY_POLICY_SPEC


# --- GatewayParameters ---------------------------------------------------------------------------

# Used when `kubernetes.deployment.replicas` is unset. It is not a schema default: an unset
# field leaves the replica count to a HorizontalPodAutoscaler after the first rollout.
GATEWAY_DEFAULT_REPLICAS = 2
ENGINE_DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}}
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
LOG_LEVELS = ("off", "critical", "error", "warn", "info", "debug", "trace")
ANNOTATION_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"
)
_ANNOTATION_KEY_RE = re.compile(ANNOTATION_KEY)


def _quantity(value: Any) -> float:
    """A resource quantity as a number, exact enough to compare requests with limits."""
    match = _QUANTITY_RE.match(str(value).strip())
    if match is None:  # the API server reports malformed quantities on the Deployment
        return math.nan
    number = float(match["num"])
    if match["bin"]:
        return number * _BINARY[match["bin"]]
    if match["dec"]:
        return number * _DECIMAL[match["dec"]]
    return number * 10.0 ** int(match["exp"] or 0)


def _request_within_limit(resource: str) -> Rule:
    def check(resources: dict[str, Any]) -> bool:
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if resource not in requests or resource not in limits:
            return True
        # A malformed quantity compares as NaN, i.e. passes: the Deployment reports it.
        return not _quantity(requests[resource]) > _quantity(limits[resource])

    return Rule(
        f"!has(self.requests) || !has(self.limits) || !('{resource}' in self.requests) || "
        f"!('{resource}' in self.limits) || quantity(string(self.requests['{resource}']))"
        f".compareTo(quantity(string(self.limits['{resource}']))) <= 0",
        f"{resource} request must be less than or equal to {resource} limit",
        check,
        field="",
    )


class QuantityValue(Schema):
    """A resource quantity kept as written (`100m`, `1Gi`, 2), e.g. a value of `requests`."""

    description = "A Kubernetes resource quantity, e.g. 100m or 256Mi."

    def load(self, value: Any, path: str) -> int | str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PolicyError(path, f"must be a quantity such as 100m or 256Mi, got {value!r}")
        if _QUANTITY_RE.match(str(value).strip()) is None:
            raise PolicyError(path, f"must be a quantity such as 100m or 256Mi, got {value!r}")
        return value

    def openapi(self) -> dict[str, Any]:
        return self._doc(
            {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
        )


_ENGINE_CONTAINER = Object(
    {
        "resources": Checked(
            Opaque(
                "core/v1 ResourceRequirements",
                # Declared because the CEL rules below read them (claims stay opaque).
                fields={
                    "requests": Map(QuantityValue(), description="Minimum resources, by name."),
                    "limits": Map(QuantityValue(), description="Maximum resources, by name."),
                },
                default=ENGINE_DEFAULT_RESOURCES,
                description="CPU and memory of the engine container. Unset means "
                "requests 100m CPU and 256Mi memory; a value replaces that default entirely.",
            ),
            [_request_within_limit("cpu"), _request_within_limit("memory")],
        ),
        "securityContext": Object(
            {
                "capabilities": Object(
                    {
                        "add": Array(
                            Str(),
                            max_items=64,
                            description="POSIX capabilities to grant, e.g. NET_BIND_SERVICE.",
                        )
                    },
                    description="All capabilities are dropped; these are added back.",
                )
            },
            description="Security settings of the engine container beyond our hardened "
            "defaults (non-root, read-only root filesystem, no privilege escalation).",
        ),
        "volumeMounts": KeyedList(
            Opaque(
                "core/v1 VolumeMount",
                fields={
                    "name": Str(min_length=1, description="Name of a volume of `volumes`."),
                    "mountPath": Str(min_length=1, description="Path in the container."),
                },
                required=["mountPath", "name"],
            ),
            keys=["mountPath"],
            max_items=16,
            description="Volumes mounted into the engine container.",
        ),
    },
    filled=True,
    description="The Envoy engine container of the gateway pods.",
)

_PLACEMENT = Object(
    {
        "affinity": Opaque("core/v1 Affinity", description="Affinity rules of the pods."),
        "nodeSelector": Map(
            Str(), description="Node labels the pods must run on (core/v1 PodSpec.nodeSelector)."
        ),
        "tolerations": Array(
            Opaque("core/v1 Toleration"), max_items=64, description="Taints the pods tolerate."
        ),
        "topologySpreadConstraints": KeyedList(
            Opaque(
                "core/v1 TopologySpreadConstraint",
                fields={
                    "maxSkew": Int(minimum=1, description="Largest allowed imbalance."),
                    "topologyKey": Str(min_length=1, description="Node label of the domains."),
                    "whenUnsatisfiable": Str(
                        enum=("DoNotSchedule", "ScheduleAnyway"),
                        description="What to do when the constraint cannot be met.",
                    ),
                },
                required=["maxSkew", "topologyKey", "whenUnsatisfiable"],
            ),
            keys=["topologyKey"],
            max_items=64,
            description="How the pods spread over zones or nodes.",
        ),
    },
    description="Scheduling of the gateway pods.",
)

_DEPLOYMENT = Object(
    {
        "replicas": Int(
            minimum=1,
            description=f"Number of gateway pods. Unset means {GATEWAY_DEFAULT_REPLICAS} at "
            "creation and then whatever a HorizontalPodAutoscaler sets.",
        ),
        "strategy": Opaque(
            "apps/v1 DeploymentStrategy",
            description="How pods are replaced on change; unset means RollingUpdate.",
        ),
        "automountServiceAccountToken": Bool(
            default=False,
            description="Mount a service account token into the pods; only for injected "
            "sidecars that need one.",
        ),
        "engineContainer": _ENGINE_CONTAINER,
        "imagePullSecrets": KeyedList(
            Object(
                {"name": Str(default="", description="Name of a Secret in the namespace.")},
                description="A Secret with registry credentials.",
            ),
            keys=["name"],
            max_items=32,
            description="Secrets used to pull the gateway images.",
        ),
        "placement": _PLACEMENT,
        "volumes": KeyedList(
            Opaque(
                "core/v1 Volume",
                fields={"name": Str(min_length=1, description="Name of the volume.")},
                required=["name"],
            ),
            keys=["name"],
            max_items=16,
            description="Volumes of the gateway pods, for `engineContainer.volumeMounts`.",
        ),
    },
    filled=True,
    description="The Deployment that runs the gateway pods.",
)


def _external(service: dict[str, Any]) -> bool:
    return service["type"] in ("NodePort", "LoadBalancer")


_SERVICE = Checked(
    Object(
        {
            "type": Str(
                default="ClusterIP",
                enum=SERVICE_TYPES,
                description="How the gateway Service is exposed.",
            ),
            "annotations": Checked(
                Map(
                    Str(),
                    max_properties=8,
                    description="Extra annotations of the Service, e.g. for cloud load balancers.",
                ),
                [
                    Rule(
                        f'self.all(key, key.matches(r"""{ANNOTATION_KEY}"""))',
                        "Annotation keys must be in the form of an optional DNS subdomain "
                        "prefix followed by a required name segment of up to 63 characters.",
                        lambda m: all(_ANNOTATION_KEY_RE.match(k) for k in m),
                    ),
                    Rule(
                        'self.all(key, key.split("/")[0].size() < 253)',
                        "If specified, the annotation key's prefix must be a DNS subdomain not "
                        "longer than 253 characters in total.",
                        lambda m: all(len(k.split("/")[0]) < 253 for k in m),
                    ),
                    Rule(
                        "self.all(key, size(self[key]) <= 4096)",
                        "Annotation values may not be longer than 4096 characters.",
                        lambda m: all(len(v) <= 4096 for v in m.values()),
                    ),
                ],
            ),
            "externalTrafficPolicy": Str(
                enum=("Cluster", "Local"),
                description="Local keeps the client source IP; Cluster spreads evenly. "
                "Only for NodePort and LoadBalancer.",
            ),
            "allocateLoadBalancerNodePorts": Bool(
                description="Allocate NodePorts for a LoadBalancer Service (Kubernetes "
                "default true)."
            ),
            "loadBalancerClass": Str(
                min_length=1,
                max_length=253,
                pattern=r"^(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])$",
                description="Load balancer implementation of a LoadBalancer Service.",
            ),
            "sessionAffinity": Str(
                enum=("ClientIP", "None"), description="Stick clients to one gateway pod."
            ),
            "sessionAffinityConfig": Checked(
                Object(
                    {
                        "clientIP": Object(
                            {
                                "timeoutSeconds": Int(
                                    description="Stickiness in seconds, 1 to 86400."
                                )
                            },
                            description="Settings of ClientIP session affinity.",
                        )
                    },
                    description="Settings of session affinity.",
                ),
                [
                    Rule(
                        "!(has(self.clientIP) && has(self.clientIP.timeoutSeconds)) || "
                        "self.clientIP.timeoutSeconds > 0 && "
                        "self.clientIP.timeoutSeconds <= 86400",
                        "clientIP.timeoutSeconds must be greater than 0 and smaller or equal "
                        "than 86400 (1 day)",
                        lambda c: 0 < c.get("clientIP", {}).get("timeoutSeconds", 1) <= 86400,
                        field="clientIP.timeoutSeconds",
                    )
                ],
            ),
            "trafficDistribution": Str(
                enum=("PreferClose", "PreferSameZone", "PreferSameNode"),
                description="Preference for nearby gateway pods.",
            ),
        },
        filled=True,
        description="The Service in front of the gateway pods.",
    ),
    [
        Rule(
            '!has(self.externalTrafficPolicy) || self.type == "NodePort" || '
            'self.type == "LoadBalancer"',
            "externalTrafficPolicy can only be set for externally-accessible service types "
            "(i.e., NodePort, LoadBalancer)",
            lambda s: "externalTrafficPolicy" not in s or _external(s),
            field="externalTrafficPolicy",
        ),
        Rule(
            '!has(self.allocateLoadBalancerNodePorts) || self.type == "LoadBalancer"',
            "allocateLoadBalancerNodePorts can only be set for service type LoadBalancer",
            lambda s: "allocateLoadBalancerNodePorts" not in s or s["type"] == "LoadBalancer",
            field="allocateLoadBalancerNodePorts",
        ),
        Rule(
            '!has(self.loadBalancerClass) || self.type == "LoadBalancer"',
            "loadBalancerClass can only be set for service type LoadBalancer",
            lambda s: "loadBalancerClass" not in s or s["type"] == "LoadBalancer",
            field="loadBalancerClass",
        ),
    ],
)

_REMOTE_IP = Object(
    {
        "connectionIP": Object({}, description="The address of the direct downstream peer."),
        "customHeader": Object(
            {
                "headerName": Str(
                    min_length=1, max_length=256, description="Header holding the client IP."
                ),
                "required": Bool(
                    default=True, description="Reject requests without the header (403)."
                ),
            },
            required=["headerName"],
            description="A header set by a trusted proxy.",
        ),
        "xff": Object(
            {
                "numTrustedHops": Int(
                    minimum=1,
                    description="Take the nth address from the right of X-Forwarded-For "
                    "(default 1).",
                ),
                "trustedCIDRRanges": Array(
                    Cidr(min_length=1, max_length=49, format="cidr"),
                    1,
                    64,
                    description="Proxies to skip from the right of X-Forwarded-For.",
                ),
            },
            at_most_one=["numTrustedHops", "trustedCIDRRanges"],
            description="The X-Forwarded-For header.",
        ),
        "proxyProtocol": Object(
            {
                "version": Str(
                    enum=("V1", "V2"), description="Accepted PROXY protocol version; unset: any."
                )
            },
            description="The PROXY protocol header of the connection.",
        ),
    },
    at_most_one=["connectionIP", "customHeader", "xff", "proxyProtocol"],
    description="Where the client IP comes from; unset means the connection address.",
)

GATEWAY_PARAMETERS_SPEC = Object(
    {
        "kubernetes": Object(
            {"deployment": _DEPLOYMENT, "service": _SERVICE},
            filled=True,
            description="The Kubernetes objects created for each Gateway.",
        ),
        "logging": Object(
            {
                "level": Str(
                    default="info",
                    enum=LOG_LEVELS,
                    description="Level of the engine's own (system) logs.",
                )
            },
            filled=True,
            description="Logging of the gateway engine.",
        ),
        "defaults": Object(
            {
                "contentSecurity": Object(
                    {
                        "secured": Object(
                            {}, description="Routes without a policy get the built-in defaults."
                        ),
                        "unsecured": Object(
                            {}, description="Routes without a policy are not filtered at all."
                        ),
                    },
                    at_most_one=["unsecured", "secured"],
                    description="Protection of routes no ContentSecurityPolicy targets.",
                ),
                "downstream": Object(
                    {"remoteIP": _REMOTE_IP}, description="How clients reach the gateway."
                ),
                "customResponses": Opaque(
                    "",
                    description="Custom error pages (reserved: validated in a later version).",
                ),
                "sessionHandlingRef": _ref("SessionHandling (reserved: not implemented yet)"),
                "telemetryRef": _ref("Telemetry (reserved: not implemented yet)"),
            },
            description="Defaults for all routes of the Gateway.",
        ),
        "features": Object(
            {
                "envoyExtensionPolicyEnabled": Bool(
                    default=False, description="Process EnvoyExtensionPolicy resources."
                ),
                "externalNameServicesAllowed": Bool(
                    default=False,
                    description="Allow ExternalName Services as backends (off by default, "
                    "CVE-2021-25740).",
                ),
                "httpRouteRegexPathMatchEnabled": Bool(
                    default=False,
                    description="Accept HTTPRoute RegularExpression path matches (RE2).",
                ),
                "insecureTLSAllowed": Bool(
                    default=False,
                    description="Accept BackendTLSPolicies without certificate validation. "
                    "Insecure; for tests only.",
                ),
                "unrestrictedEnvoyAdminInterface": Bool(
                    default=False,
                    description="Expose all of the Envoy admin interface, not just the "
                    "read-only endpoints.",
                ),
            },
            filled=True,
            description="Optional features, all off by default.",
        ),
        "experimental": Opaque(
            "",
            description="Not yet graduated Gateway API settings such as tls (reserved: "
            "validated in a later version).",
        ),
    },
    description="How the operator deploys a Gateway: Deployment, Service, logging, defaults. "
    "Referenced by a GatewayClass or a Gateway; a Gateway's replaces its class's.",
)
SPECS["GatewayParameters"] = GATEWAY_PARAMETERS_SPEC


# --- Reserved kinds ------------------------------------------------------------------------------


def _reserved(kind: str) -> Opaque:
    return Opaque(
        "",
        description=f"{kind} settings (reserved: validated in a later version; manifests are "
        "accepted and stored unchanged).",
    )


ACCESS_CONTROL_POLICY_SPEC = _reserved("AccessControlPolicy")
JWT_SPEC = _reserved("JWT")
JWKS_SPEC = _reserved("JWKS")
SPECS["AccessControlPolicy"] = ACCESS_CONTROL_POLICY_SPEC
SPECS["JWT"] = JWT_SPEC
SPECS["JWKS"] = JWKS_SPEC


# --- Field documentation -------------------------------------------------------------------------
# The specs above were written without descriptions; `kubectl explain` and the CRD reference need
# one on every field. Names that mean the same wherever they occur are described once by name;
# the rest by path. Fields that already have a description keep it.

_DOC_BY_NAME = {
    # String matchers and request conditions, shared by all kinds.
    "matcher": "How the string is compared: exactly one of exact, prefix, suffix, contains, regex.",
    "exact": "Matches the whole string.",
    "prefix": "Matches strings starting with this text.",
    "suffix": "Matches strings ending with this text.",
    "contains": "Matches strings containing this text.",
    "regex": "Matches strings with a match of this RE2 regular expression.",
    "ignoreCase": "Compare case-insensitively.",
    "requestConditions": "Applies only to requests matching all of these conditions.",
    "method": "Request methods to match.",
    "mediaType": "Media type (Content-Type without parameters) to match.",
    "remoteIP": "Client IP addresses to match.",
    "cidrRanges": "IPv4 or IPv6 CIDR ranges, e.g. 192.168.0.0/16 or 2001:db8::/32.",
    "invert": "Match when the condition does not match.",
    "header": "A request header, by name and/or value.",
    "name": "Matcher for the name.",
    "value": "Matcher for the value.",
    "source": "Where the parameter comes from: Query, Post (form body) or Any.",
    "parameter": "A query or form parameter, by name and/or value.",
    "path": "Matcher for the request path.",
    "pathSegment": "A segment of the request path, by position and/or value.",
    "segments": "Which path segment, counted from 0.",
    "index": "Position of the path segment, counted from 0.",
    "json": "A JSON body member, by JSON path, key or value.",
    "jsonPath": "JSON path of the member, e.g. $.user.name.",
    "key": "Matcher for JSON object keys.",
    "graphQL": "A GraphQL query element, by field, argument or value.",
    "field": "Matcher for the GraphQL field name.",
    "argument": "Matcher for the GraphQL argument name.",
    # DenyRules
    "threatHandlingMode": "Block stops matching requests with a 400; LogOnly logs and lets "
    "them pass.",
    "level": "Strictness of the built-in deny rules: Basic, Standard or Strict; Unfiltered "
    "turns them off.",
    "ruleKeys": "Built-in rule groups, e.g. SQL or XSS.",
    "types": "Kinds of request fields: Header, Parameter, Path, PathSegment, JSON, GraphQL.",
    # HeaderRewrites
    "headers": "Headers this rule matches or sets.",
    "mode": "AddIfAbsent keeps an existing header; OverwriteOrAdd replaces it.",
    "allHeaders": "Allow every header.",
    "matchingHeaders": "Allow only headers matched by the built-in lists or custom rules.",
    "standardHeaders": "Allow the standard HTTP headers.",
    "enable": "Use this parser.",
    "mediaTypePattern": "RE2 pattern of the Content-Type values this parser takes.",
}

_DOC_BY_PATH = {
    "DenyRules": {
        "request": "Deny rules applied to requests.",
        "request.builtIn": "The built-in deny rules shipped with the gateway.",
        "request.builtIn.settings": "Level and mode of all built-in rules.",
        "request.builtIn.overrides": "Other level or mode for some rule keys or field types.",
        "request.builtIn.overrides[].conditions": "Which rules the override applies to.",
        "request.builtIn.overrides[].settings": "Level and/or mode for those rules.",
        "request.builtIn.exceptions": "Allow requests the built-in rules would block "
        "(false positives).",
        "request.builtIn.exceptions[].blockedData": "The request data the exception allows.",
        "request.custom": "Deny rules written for this application.",
        "request.custom.rules": "Custom deny rules.",
        "request.custom.rules[].ruleKey": "Name reported when the rule matches, e.g. MY_RULE.",
        "request.custom.rules[].blockData": "The request data that is blocked.",
    },
    "Limits": {
        "request": "Limits on request sizes and counts.",
        "request.limited": "Check the limits below (the default).",
        "request.unlimited": "Do not check any limit.",
        "request.limited.general": "Limits for every request.",
        "request.limited.general.bodySize": "Largest request body.",
        "request.limited.general.pathLength": "Longest request path.",
        "request.limited.parameter": "Limits of query and form parameters.",
        "request.limited.parameter.bodySize": "Largest form (urlencoded) body.",
        "request.limited.parameter.count": "Most parameters per request.",
        "request.limited.parameter.nameLength": "Longest parameter name.",
        "request.limited.parameter.valueLength": "Longest parameter value.",
        "request.limited.json": "Limits of JSON bodies.",
        "request.limited.json.bodySize": "Largest JSON body.",
        "request.limited.json.nestingDepth": "Deepest nesting of objects and arrays.",
        "request.limited.json.keyCount": "Most keys in one object.",
        "request.limited.json.elementCount": "Most elements in one array.",
        "request.limited.json.keyLength": "Longest key.",
        "request.limited.json.valueLength": "Longest string value.",
        "request.limited.multipart": "Limits of multipart bodies.",
        "request.limited.multipart.bodySize": "Largest multipart body.",
        "request.limited.graphQL": "Limits of GraphQL queries.",
        "request.limited.graphQL.querySize": "Largest query.",
        "request.limited.graphQL.nestingDepth": "Deepest selection nesting.",
        "request.limited.graphQL.valueLength": "Longest argument value.",
        "request.limited.exceptions": "Parameters or JSON members exempt from length limits.",
        "request.limited.exceptions[].length": "The value exempt from the length limits.",
        "request.limited.exceptions[].length.parameter": "A parameter, by name.",
        "request.limited.exceptions[].length.json": "A JSON member, by JSON path.",
        "settings": "How limit violations are handled.",
    },
    "Parser": {
        "request": "How request bodies are parsed.",
        "request.defaultContentType": "Content type assumed when a request has none.",
        "request.parsers": "The body parsers and the content types they take.",
        "request.parsers.form": "The application/x-www-form-urlencoded parser.",
        "request.parsers.json": "The JSON parser.",
        "request.parsers.multipart": "The multipart/form-data parser.",
        "request.custom": "Rules that force a parser or skip parsing.",
        "request.custom.rules": "Custom parser rules; the first matching one applies.",
        "request.custom.rules[].action": "Parse with a given parser, or skip parsing.",
        "request.custom.rules[].action.parse": "Parse the body with this parser.",
        "request.custom.rules[].action.parse.json": "Parse as JSON.",
        "request.custom.rules[].action.parse.form": "Parse as urlencoded form.",
        "request.custom.rules[].action.parse.multipart": "Parse as multipart/form-data.",
        "request.custom.rules[].action.skip": "Do not parse the body.",
    },
    "HeaderRewrites": {
        "request": "Changes to request headers before they reach the upstream.",
        "request.allow": "Which request headers pass; unset means the standard headers.",
        "request.allow.matchingHeaders.builtIn": "Built-in allow lists.",
        "request.allow.matchingHeaders.builtIn.tracingHeaders": "Allow tracing headers "
        "(traceparent, b3, ...).",
        "request.allow.matchingHeaders.custom": "Further headers to allow.",
        "request.remove": "Request headers to remove.",
        "request.remove.builtIn": "Built-in removal lists.",
        "request.remove.builtIn.alternativeForwardedHeaders": "Remove forwarding headers "
        "other than X-Forwarded-For (X-Real-IP, Forwarded, ...).",
        "request.remove.custom": "Further request headers to remove.",
        "request.add": "Request headers to add.",
        "request.add.custom": "Request headers to add, with optional conditions.",
        "response": "Changes to response headers before they reach the client.",
        "response.allow": "Which response headers pass; unset means all.",
        "response.allow.matchingHeaders.builtIn": "Built-in allow lists.",
        "response.allow.matchingHeaders.custom": "Further headers to allow.",
        "response.remove": "Response headers to remove.",
        "response.remove.builtIn": "Built-in removal lists.",
        "response.remove.builtIn.informationLeakage": "Headers that reveal the upstream software.",
        "response.remove.builtIn.informationLeakage.server": "Remove Server.",
        "response.remove.builtIn.informationLeakage.application": "Remove X-Powered-By and "
        "similar headers.",
        "response.remove.builtIn.permissiveCors": "Remove CORS headers that allow any origin.",
        "response.remove.builtIn.auth": "Authentication challenges to remove.",
        "response.remove.builtIn.auth.ntlm": "Remove NTLM challenges.",
        "response.remove.builtIn.auth.negotiate": "Remove Negotiate (Kerberos) challenges.",
        "response.remove.builtIn.auth.basic": "Remove Basic challenges.",
        "response.remove.custom": "Further response headers to remove.",
        "response.add": "Response headers to add.",
        "response.add.builtIn": "Built-in security headers.",
        "response.add.builtIn.hsts": "Add Strict-Transport-Security.",
        "response.add.builtIn.hstsPreload": "Add the preload directive to HSTS.",
        "response.add.builtIn.xFrameOptions": "Add X-Frame-Options.",
        "response.add.builtIn.xContentTypeOptions": "Add X-Content-Type-Options: nosniff.",
        "response.add.builtIn.referrerPolicy": "Add Referrer-Policy.",
        "response.add.builtIn.permissionsPolicy": "Add Permissions-Policy.",
        "response.add.builtIn.csp": "Add a Content-Security-Policy.",
        "response.add.builtIn.featurePolicy": "Add Feature-Policy (older browsers).",
        "response.add.custom": "Response headers to add, with optional conditions.",
        "settings": "How the rewrites are applied.",
        "settings.operationalMode": "Production applies all; Integration and LogOnly are "
        "for testing rules.",
    },
}
# Custom header rules: name is the rule's own name, headers holds the matchers or values.
for _kind_docs in (_DOC_BY_PATH["HeaderRewrites"],):
    for _side in ("request", "response"):
        for _list in ("allow.matchingHeaders.custom", "remove.custom", "add.custom"):
            _kind_docs[f"{_side}.{_list}[].name"] = "Unique name of this rule."
        _kind_docs[f"{_side}.add.custom[].headers[].name"] = "Header name."
        _kind_docs[f"{_side}.add.custom[].headers[].value"] = (
            "Header value; may use Envoy operators such as %REQ(x-user)%; a literal % is %%."
        )
_DOC_BY_PATH["Limits"]["settings.threatHandlingMode"] = _DOC_BY_NAME["threatHandlingMode"]
_DOC_BY_PATH["DenyRules"]["request.builtIn.overrides[].settings.level"] = _DOC_BY_NAME["level"]

for _kind, _spec in (
    ("DenyRules", DENY_RULES_SPEC),
    ("Limits", LIMITS_SPEC),
    ("Parser", PARSER_SPEC),
    ("HeaderRewrites", HEADER_REWRITES_SPEC),
):
    document(_spec, _DOC_BY_PATH[_kind], _DOC_BY_NAME)
for _spec in (CONTENT_SECURITY_POLICY_SPEC, GATEWAY_PARAMETERS_SPEC):
    document(_spec, {}, _DOC_BY_NAME)
