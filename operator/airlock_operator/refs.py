"""References between objects: defaults of Gateway API references and ReferenceGrant checks."""

from __future__ import annotations

import fnmatch
from typing import Any

from airlock_operator.world import World, namespace_of, spec

GATEWAY_GROUP = "gateway.networking.k8s.io"


def ref_group(ref: dict[str, Any], default: str) -> str:
    group = ref.get("group")
    return default if group is None else str(group)


def ref_kind(ref: dict[str, Any], default: str) -> str:
    return str(ref.get("kind") or default)


def reference_granted(
    world: World,
    from_group: str,
    from_kind: str,
    from_namespace: str,
    to_group: str,
    to_kind: str,
    to_namespace: str,
    to_name: str,
) -> bool:
    """Whether a reference across namespaces is allowed: same namespace always, otherwise a
    ReferenceGrant in the target's namespace must allow it."""
    if from_namespace == to_namespace:
        return True
    for grant in world.all("ReferenceGrant"):
        if namespace_of(grant) != to_namespace:
            continue
        grant_spec = spec(grant)
        allowed_from = any(
            f.get("group", "") == from_group
            and f.get("kind") == from_kind
            and f.get("namespace") == from_namespace
            for f in grant_spec.get("from") or []
        )
        allowed_to = any(
            t.get("group", "") == to_group
            and t.get("kind") == to_kind
            and t.get("name") in (None, "", to_name)
            for t in grant_spec.get("to") or []
        )
        if allowed_from and allowed_to:
            return True
    return False


def labels_match(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector against labels (an empty selector matches everything)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def hostname_matches(pattern: str, hostname: str) -> bool:
    """A Gateway API hostname against a wildcard one: `*.example.com` covers any number of
    labels before `.example.com`, never `example.com` itself."""
    if pattern.startswith("*."):
        return hostname.endswith(pattern[1:]) and hostname != pattern[2:]
    return fnmatch.fnmatchcase(hostname, pattern) if "*" in pattern else hostname == pattern


def intersect_hostnames(listener: str | None, route: list[str]) -> list[str]:
    """The hostnames a route serves on a listener (Gateway API rules); [] when none, ["*"] for
    any host."""
    if not route:
        return [listener] if listener else ["*"]
    if not listener:
        return list(route)
    result = []
    for hostname in route:
        if hostname == listener:
            result.append(hostname)
        elif listener.startswith("*.") and hostname_matches(listener, hostname.lstrip("*.")):
            # the route's name (or narrower wildcard) lies inside the listener's wildcard
            result.append(hostname)
        elif hostname.startswith("*.") and hostname_matches(hostname, listener.lstrip("*.")):
            result.append(listener)
    return sorted(set(result))
