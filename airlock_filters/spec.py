"""A small schema language: the single source of our resource shapes.

Each schema validates a YAML/JSON value, fills in documented defaults and returns plain Python
values; `openapi()` renders the same schema as a Kubernetes structural OpenAPI v3 schema, so the
CRDs and the engine can never disagree about names, enums or defaults.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airlock_filters.errors import PolicyError

_MISSING = object()


class Schema:
    description: str = ""

    def load(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def default_value(self) -> Any:
        return _MISSING

    def openapi(self) -> dict[str, Any]:
        raise NotImplementedError

    def _doc(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            out["description"] = self.description
        return out


class Bool(Schema):
    def __init__(self, default: bool | None = None, description: str = "") -> None:
        self.default = default
        self.description = description

    def load(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise PolicyError(path, f"must be a boolean, got {_kind(value)}")
        return value

    def default_value(self) -> Any:
        return _MISSING if self.default is None else self.default

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "boolean"}
        if self.default is not None:
            out["default"] = self.default
        return self._doc(out)


class Int(Schema):
    def __init__(
        self, default: int | None = None, minimum: int | None = None, description: str = ""
    ) -> None:
        self.default = default
        self.minimum = minimum
        self.description = description

    def load(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyError(path, f"must be an integer, got {_kind(value)}")
        if self.minimum is not None and value < self.minimum:
            raise PolicyError(path, f"must be >= {self.minimum}, got {value}")
        return value

    def default_value(self) -> Any:
        return _MISSING if self.default is None else self.default

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer", "format": "int64"}
        if self.default is not None:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        return self._doc(out)


class Str(Schema):
    def __init__(
        self,
        default: str | None = None,
        enum: Sequence[str] | None = None,
        pattern: str | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        format: str | None = None,
        description: str = "",
    ) -> None:
        self.default = default
        self.enum = list(enum) if enum else None
        self.pattern = pattern
        self._pattern_re = re.compile(pattern) if pattern else None
        self.min_length = min_length
        self.max_length = max_length
        self.format = format
        self.description = description

    def load(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise PolicyError(path, f"must be a string, got {_kind(value)}")
        if self.enum is not None and value not in self.enum:
            raise PolicyError(path, f"must be one of {', '.join(self.enum)}, got {value!r}")
        if self.min_length is not None and len(value) < self.min_length:
            raise PolicyError(path, f"must be at least {self.min_length} characters long")
        if self.max_length is not None and len(value) > self.max_length:
            raise PolicyError(path, f"must be at most {self.max_length} characters long")
        if self._pattern_re is not None and not self._pattern_re.search(value):
            raise PolicyError(path, f"must match {self.pattern}")
        return value

    def default_value(self) -> Any:
        return _MISSING if self.default is None else self.default

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        for key, val in (
            ("default", self.default),
            ("enum", self.enum),
            ("pattern", self.pattern),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("format", self.format),
        ):
            if val is not None:
                out[key] = val
        return self._doc(out)


_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<bin>[KMGTPE]i)|(?P<dec>[numkMGTPE])|[eE](?P<exp>[+-]?[0-9]+))?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_DECIMAL |= {"P": 1e15, "E": 1e18}


def parse_quantity(value: int | str) -> int:
    """Kubernetes resource quantity (``100Mi``, ``8Ki``, ``128``, ``1e3``) to a whole number.

    Fractions round up, so a limit is never silently tighter than what was written.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _QUANTITY_RE.match(str(value).strip())
    if match is None:
        raise ValueError(f"not a quantity: {value!r}")
    number = float(match["num"])
    if match["bin"]:
        number *= _BINARY[match["bin"]]
    elif match["dec"]:
        number *= _DECIMAL[match["dec"]]
    elif match["exp"]:
        number *= 10 ** int(match["exp"])
    return math.ceil(number)


class Quantity(Schema):
    """A size or length: integer or Kubernetes quantity string; loads as an int."""

    def __init__(self, default: str, description: str = "") -> None:
        self.default = default
        self.description = description

    def load(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PolicyError(path, f"must be an integer or a quantity string, got {_kind(value)}")
        try:
            number = parse_quantity(value)
        except ValueError:
            raise PolicyError(
                path, f"must be a quantity such as 128, 8Ki or 100Mi, got {value!r}"
            ) from None
        if number < 0:
            raise PolicyError(path, f"must not be negative, got {value!r}")
        return number

    def default_value(self) -> Any:
        return parse_quantity(self.default)

    def openapi(self) -> dict[str, Any]:
        return self._doc(
            {
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True,
                "pattern": _QUANTITY_RE.pattern.replace("(?P<num>", "(")
                .replace("(?P<bin>", "(")
                .replace("(?P<dec>", "(")
                .replace("(?P<exp>", "("),
                "default": self.default,
                "x-kubernetes-validations": [
                    {
                        "rule": "quantity(string(self)).isInteger() && "
                        "sign(quantity(string(self))) != -1",
                        "message": "only non-negative quantities representable as an integer "
                        "value between 0 and 9223372036854775807 (inclusive) are allowed",
                    }
                ],
            }
        )


class Array(Schema):
    def __init__(
        self,
        items: Schema,
        min_items: int | None = None,
        max_items: int | None = None,
        description: str = "",
    ) -> None:
        self.items = items
        self.min_items = min_items
        self.max_items = max_items
        self.description = description

    def load(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise PolicyError(path, f"must be a list, got {_kind(value)}")
        if self.min_items is not None and len(value) < self.min_items:
            raise PolicyError(path, f"must have at least {self.min_items} item(s)")
        if self.max_items is not None and len(value) > self.max_items:
            raise PolicyError(path, f"must have at most {self.max_items} items")
        return [self.items.load(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.items.openapi()}
        if self.min_items is not None:
            out["minItems"] = self.min_items
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        return self._doc(out)


class Object(Schema):
    """An object with known fields.

    `exactly_one`, `at_most_one` and `at_least_one` are groups of field names, checked like the
    CEL validations of the reference CRDs. `filled` objects default to `{}` (and so get their
    fields' defaults) when absent; unknown fields are rejected so typos do not pass silently.
    """

    def __init__(
        self,
        fields: Mapping[str, Schema],
        required: Sequence[str] = (),
        exactly_one: Sequence[str] = (),
        at_most_one: Sequence[str] = (),
        at_least_one: Sequence[str] = (),
        filled: bool = False,
        description: str = "",
    ) -> None:
        self.fields = dict(fields)
        self.required = list(required)
        self.exactly_one = list(exactly_one)
        self.at_most_one = list(at_most_one)
        self.at_least_one = list(at_least_one)
        self.filled = filled
        self.description = description

    def load(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise PolicyError(path, f"must be an object, got {_kind(value)}")
        for key in value:
            if key not in self.fields:
                known = ", ".join(sorted(self.fields)) or "none"
                raise PolicyError(_join(path, str(key)), f"unknown field (known fields: {known})")
        for key in self.required:
            if key not in value:
                raise PolicyError(_join(path, key), "required field is missing")
        present = [k for k in value if value[k] is not None]
        self._check_groups(present, path)
        out: dict[str, Any] = {}
        for key, schema in self.fields.items():
            if key in value and value[key] is not None:
                out[key] = schema.load(value[key], _join(path, key))
            else:
                default = schema.default_value()
                if default is not _MISSING:
                    out[key] = default
        return out

    def _check_groups(self, present: list[str], path: str) -> None:
        def count(group: list[str]) -> int:
            return sum(1 for name in group if name in present)

        if self.exactly_one and count(self.exactly_one) != 1:
            raise PolicyError(path, f"exactly one of [{', '.join(self.exactly_one)}] must be set")
        if self.at_most_one and count(self.at_most_one) > 1:
            raise PolicyError(path, f"at most one of [{', '.join(self.at_most_one)}] may be set")
        if self.at_least_one and count(self.at_least_one) < 1:
            raise PolicyError(path, f"at least one of [{', '.join(self.at_least_one)}] must be set")

    def default_value(self) -> Any:
        return self.load({}, "") if self.filled else _MISSING

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object"}
        if self.fields:
            out["properties"] = {k: s.openapi() for k, s in self.fields.items()}
        if self.required:
            out["required"] = list(self.required)
        if self.filled:
            out["default"] = {}
        rules = []
        for group, op, message in (
            (self.exactly_one, "== 1", "exactly one of the fields in [{}] must be set"),
            (self.at_most_one, "<= 1", "at most one of the fields in [{}] may be set"),
            (self.at_least_one, ">= 1", "at least one of the fields in [{}] must be set"),
        ):
            if group:
                has = ",".join(f"has(self.{name})" for name in group)
                rules.append(
                    {
                        "rule": f"[{has}].filter(x,x==true).size() {op}",
                        "message": message.format(" ".join(group)),
                    }
                )
        if rules:
            out["x-kubernetes-validations"] = rules
        return self._doc(out)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# --- Additions for the CRDs: embedded Kubernetes types, maps, keyed lists, CEL rules, docs ------


class Opaque(Schema):
    """A value of an embedded Kubernetes type (Volume, Affinity, ResourceRequirements, ...).

    Such values are passed on unchanged into the objects the operator creates, where the API
    server validates them against their own schema; declaring them field by field here would
    copy thousands of lines of upstream API that then drift. Only the fields named in `fields`
    (for example the key of a list map) are declared and checked; all others are kept through
    pruning by `x-kubernetes-preserve-unknown-fields`.
    """

    def __init__(
        self,
        holds: str,
        type: str = "object",
        fields: Mapping[str, Schema] | None = None,
        required: Sequence[str] = (),
        default: Any = None,
        description: str = "",
    ) -> None:
        if type not in ("object", "array"):
            raise ValueError(f"Opaque holds an object or an array, not {type!r}")
        self.holds = holds
        self.type = type
        self.fields = dict(fields or {})
        self.required = list(required)
        self.default = default
        note = f"Holds a Kubernetes {holds}, passed on as written." if holds else ""
        self.description = " ".join(part for part in (description, note) if part)

    def load(self, value: Any, path: str) -> Any:
        if self.type == "object":
            if not isinstance(value, Mapping):
                raise PolicyError(path, f"must be an object, got {_kind(value)}")
            for key in self.required:
                if key not in value:
                    raise PolicyError(_join(path, key), "required field is missing")
            out = copy.deepcopy(dict(value))
            for key, schema in self.fields.items():
                if key in value and value[key] is not None:
                    out[key] = schema.load(value[key], _join(path, key))
            return out
        if not isinstance(value, list):
            raise PolicyError(path, f"must be a list, got {_kind(value)}")
        return copy.deepcopy(value)

    def default_value(self) -> Any:
        return _MISSING if self.default is None else copy.deepcopy(self.default)

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "array":
            # A structural array needs an item schema; the items are kept as written too.
            out["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
            if self.fields:
                out["properties"] = {k: s.openapi() for k, s in self.fields.items()}
            if self.required:
                out["required"] = list(self.required)
        if self.default is not None:
            out["default"] = copy.deepcopy(self.default)
        return self._doc(out)


class Map(Schema):
    """A string-keyed map with values of one schema (labels, annotations, node selectors)."""

    def __init__(
        self, values: Schema, max_properties: int | None = None, description: str = ""
    ) -> None:
        self.values = values
        self.max_properties = max_properties
        self.description = description

    def load(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise PolicyError(path, f"must be an object, got {_kind(value)}")
        if self.max_properties is not None and len(value) > self.max_properties:
            raise PolicyError(path, f"must have at most {self.max_properties} entries")
        return {str(k): self.values.load(v, _join(path, str(k))) for k, v in value.items()}

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "additionalProperties": self.values.openapi()}
        if self.max_properties is not None:
            # Also bounds the cost of CEL rules over the map, which the API server estimates.
            out["maxProperties"] = self.max_properties
        return self._doc(out)


class KeyedList(Array):
    """A list whose items are told apart by key fields (a Kubernetes list map).

    The API server merges such lists item by item; duplicates of a key are rejected here as
    the API server rejects them.
    """

    def __init__(self, items: Schema, keys: Sequence[str], **kwargs: Any) -> None:
        super().__init__(items, **kwargs)
        self.keys = list(keys)

    def load(self, value: Any, path: str) -> list[Any]:
        items = super().load(value, path)
        seen: set[tuple[Any, ...]] = set()
        for i, item in enumerate(items):
            key = tuple(item.get(k) for k in self.keys)
            if key in seen:
                raise PolicyError(f"{path}[{i}]", f"duplicate {'/'.join(self.keys)} {key!r}")
            seen.add(key)
        return items

    def openapi(self) -> dict[str, Any]:
        out = super().openapi()
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = list(self.keys)
        return out


@dataclass(frozen=True)
class Rule:
    """A CEL validation rule for the API server and its Python twin for `load()`.

    `check` sees the loaded value (defaults filled in, as the API server defaults before it
    validates); it is None for transition rules (`oldSelf`), which only the API server can
    evaluate. `field` names the sub-field the error is reported on.
    """

    cel: str
    message: str
    check: Callable[[Any], bool] | None
    field: str = ""


class Checked(Schema):
    """Another schema with extra rules that its own keywords cannot express."""

    def __init__(self, inner: Schema, rules: Sequence[Rule]) -> None:
        self.inner = inner
        self.rules = list(rules)

    @property
    def description(self) -> str:
        return self.inner.description

    @description.setter
    def description(self, text: str) -> None:
        self.inner.description = text

    def load(self, value: Any, path: str) -> Any:
        loaded = self.inner.load(value, path)
        for rule in self.rules:
            if rule.check is not None and not rule.check(loaded):
                raise PolicyError(_join(path, rule.field) if rule.field else path, rule.message)
        return loaded

    def default_value(self) -> Any:
        return self.inner.default_value()

    def openapi(self) -> dict[str, Any]:
        out = self.inner.openapi()
        out.setdefault("x-kubernetes-validations", []).extend(
            {"rule": rule.cel, "message": rule.message} for rule in self.rules
        )
        return out


def children(schema: Schema) -> list[tuple[str, Schema]]:
    """The named sub-schemas of a schema: object fields, and `[]` for list items."""
    if isinstance(schema, Checked):
        return children(schema.inner)
    if isinstance(schema, Object | Opaque):
        return list(schema.fields.items())
    if isinstance(schema, Array):
        return [("[]", schema.items)]
    if isinstance(schema, Map):
        return [("{}", schema.values)]
    return []


def document(schema: Schema, by_path: Mapping[str, str], by_name: Mapping[str, str]) -> None:
    """Give fields without a description one, for `kubectl explain` and the CRD reference.

    `by_path` is looked up first with dotted paths from the schema root (list items are `[]`,
    as in `request.custom.rules[].ruleKey`), then `by_name` by the field name alone, for names
    such as `matcher` or `requestConditions` that mean the same wherever they occur. Existing
    descriptions win, so a schema written with descriptions keeps them.
    """

    def walk(node: Schema, path: str) -> None:
        for name, child in children(node):
            child_path = f"{path}{name}" if name in ("[]", "{}") else _join(path, name)
            if not child.description:
                text = by_path.get(child_path) or by_name.get(name, "")
                if text:
                    child.description = text
            walk(child, child_path)

    walk(schema, "")
