"""Shapes and defaults of the `microgateway.airlock.com/v1alpha1` resources the engine reads.

Written once here with the schema language of `spec.py`; the operator renders its CRDs from the
same objects.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import re2

from airlock_filters.errors import PolicyError
from airlock_filters.spec import Array, Bool, Int, Object, Quantity, Schema, Str

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

LIMITS_SPEC = Object(
    {
        "request": Object(
            {
                "limited": Object(
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
                    filled=True,
                ),
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

SPECS: dict[str, Object] = {
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
