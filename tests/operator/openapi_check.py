"""A small checker for Kubernetes structural schemas and a validator for OpenAPI v3 subsets.

Enough of what the API server checks to catch our mistakes without one: every node typed,
no `properties` next to `additionalProperties`, int-or-string spelled the one allowed way, list
map keys declared and required (or defaulted), CEL rules with messages, and every `default`
valid against its own node. `validate()` checks a value against a schema the way the API server
does before CEL (types, enums, patterns, lengths, counts, required and unknown fields).
"""

from __future__ import annotations

import re
from typing import Any

INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
SCALARS = ("string", "integer", "number", "boolean")


def structural_errors(node: dict[str, Any], path: str = "") -> list[str]:
    errors: list[str] = []
    here = path or "<root>"
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    if int_or_string:
        if "type" in node or node.get("anyOf") != INT_OR_STRING:
            errors.append(f"{here}: int-or-string must be exactly anyOf [integer, string], no type")
    elif "type" not in node and not preserve:
        errors.append(f"{here}: no type")
    if "anyOf" in node and not int_or_string:
        errors.append(f"{here}: anyOf only for int-or-string")
    for junctor in ("allOf", "oneOf", "not"):
        if junctor in node:
            errors.append(f"{here}: {junctor} is not used in our schemas")
    if node.get("uniqueItems"):
        errors.append(f"{here}: uniqueItems is forbidden")
    kind = node.get("type")
    if "properties" in node and "additionalProperties" in node:
        errors.append(f"{here}: properties and additionalProperties are exclusive")
    if ("properties" in node or "additionalProperties" in node) and kind != "object":
        errors.append(f"{here}: properties on a {kind}")
    if kind == "array" and "items" not in node:
        errors.append(f"{here}: array without items")
    if "items" in node and kind != "array":
        errors.append(f"{here}: items on a {kind}")
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            errors.append(f"{here}: required field {name!r} is not declared")
    if node.get("x-kubernetes-list-type") == "map":
        items = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []):
            declared = items.get("properties", {}).get(key)
            if declared is None or declared.get("type") not in SCALARS:
                errors.append(f"{here}: list map key {key!r} must be a declared scalar")
            elif key not in items.get("required", []) and "default" not in declared:
                errors.append(f"{here}: list map key {key!r} must be required or defaulted")
    for rule in node.get("x-kubernetes-validations", []):
        if not isinstance(rule.get("rule"), str) or not rule.get("message"):
            errors.append(f"{here}: CEL validation needs rule and message")
    if "default" in node:
        errors += [f"{here}: default invalid: {e}" for e in validate(node["default"], node)]
    for name, child in node.get("properties", {}).items():
        errors += structural_errors(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        errors += structural_errors(node["additionalProperties"], f"{path}{{}}")
    if "items" in node:
        errors += structural_errors(node["items"], f"{path}[]")
    return errors


def undocumented(node: dict[str, Any], path: str = "") -> list[str]:
    """Properties without a description (metadata's is the API server's own)."""
    missing = []
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}"
        if not child.get("description") and child_path != ".metadata":
            missing.append(child_path)
        missing += undocumented(child, child_path)
    if "items" in node:
        missing += undocumented(node["items"], f"{path}[]")
    return missing


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    raise AssertionError(f"unknown type {kind}")


def validate(value: Any, node: dict[str, Any], path: str = "") -> list[str]:
    here = path or "<root>"
    if node.get("x-kubernetes-int-or-string"):
        if not (_type_ok(value, "integer") or _type_ok(value, "string")):
            return [f"{here}: must be an integer or a string"]
    elif "type" in node and not _type_ok(value, node["type"]):
        return [f"{here}: must be {node['type']}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{here}: {value!r} not in {node['enum']}")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"{here}: {value!r} does not match {node['pattern']}")
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", 1e12):
            errors.append(f"{here}: length {len(value)} out of bounds")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and not node.get("minimum", -1e30) <= value <= node.get("maximum", 1e30):
        errors.append(f"{here}: {value} out of bounds")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0) or len(value) > node.get("maxItems", 1e12):
            errors.append(f"{here}: {len(value)} items out of bounds")
        for i, item in enumerate(value):
            errors += validate(item, node.get("items", {}), f"{path}[{i}]")
    if isinstance(value, dict) and node.get("type") == "object":
        properties = node.get("properties", {})
        for name in node.get("required", []):
            if name not in value:
                errors.append(f"{here}: missing required {name}")
        for name, child in value.items():
            if name in properties:
                errors += validate(child, properties[name], f"{path}.{name}")
            elif isinstance(node.get("additionalProperties"), dict):
                errors += validate(child, node["additionalProperties"], f"{path}.{name}")
            elif not node.get("x-kubernetes-preserve-unknown-fields"):
                # The API server would prune it silently; for our examples it is a mistake.
                errors.append(f"{here}: unknown field {name}")
    return errors
