"""ContentSecurityPolicies: which route each protects, their ancestor status, and the policy
documents the sidecar of each Gateway gets.

Policies are namespaced and a Gateway serves routes of many namespaces, so the documents sent
to a sidecar carry names qualified by namespace (`<namespace>.<name>`; namespaces hold no dots).
A policy that does not load keeps its routes on the built-in default policy (never unprotected)
and says why in its status.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from airlock_filters.policy import PolicyError, load_policy_documents
from airlock_microgateway.envoy_config import protection_fields
from airlock_microgateway.header_rewrites import HeaderRewrites
from airlock_operator.conditions import Condition
from airlock_operator.gateways import GatewayState
from airlock_operator.refs import GATEWAY_GROUP, ref_group, ref_kind
from airlock_operator.routes import RouteState
from airlock_operator.world import World, meta, name_of, namespace_of, spec

DEFAULT_POLICY = "default"
MAX_ANCESTORS = 16
_REFS = {
    "parserRef": "Parser",
    "limitsRef": "Limits",
    "headerRewritesRef": "HeaderRewrites",
}


def qualified(namespace: str, name: str) -> str:
    return f"{namespace}.{name}"


@dataclass
class Protection:
    """What a route gets: a policy name for the sidecar (None: unsecured) and its rewrites."""

    policy: str | None
    rewrites: HeaderRewrites | None
    _fields: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def route_fields(self) -> dict[str, Any]:
        """`protection_fields` of this protection: built once, as every route protected by it
        gets the same (read-only: copy before changing)."""
        if self._fields is None:
            self._fields = protection_fields(self.policy, self.rewrites)
        return self._fields


@dataclass
class LoadedPolicy:
    obj: dict[str, Any]
    documents: list[dict[str, Any]] = field(default_factory=list)
    protection: Protection | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return qualified(namespace_of(self.obj), name_of(self.obj))


@dataclass
class PolicyOutcome:
    protection: dict[tuple[str, str], Protection]  # by route key
    ancestors: dict[tuple[str, str], list[tuple[dict[str, Any], Condition]]]  # by policy key
    documents: dict[tuple[str, str], list[dict[str, Any]]]  # by gateway key


def _referenced(csp: dict[str, Any]) -> list[tuple[str, str]]:
    secured = spec(csp).get("secured") or {}
    refs = [(kind, (secured.get(ref) or {}).get("name")) for ref, kind in _REFS.items()]
    refs.append(
        ("DenyRules", ((secured.get("filter") or {}).get("denyRulesRef") or {}).get("name"))
    )
    return [(kind, name) for kind, name in refs if name]


def _qualify_refs(csp: dict[str, Any], namespace: str) -> dict[str, Any]:
    doc = copy.deepcopy(csp)
    secured = (doc.get("spec") or {}).get("secured") or {}
    for ref in _REFS:
        if (secured.get(ref) or {}).get("name"):
            secured[ref]["name"] = qualified(namespace, secured[ref]["name"])
    deny = (secured.get("filter") or {}).get("denyRulesRef") or {}
    if deny.get("name"):
        deny["name"] = qualified(namespace, deny["name"])
    return doc


def _document(kind: str, obj: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj.get("apiVersion", "microgateway.airlock.com/v1alpha1"),
        "kind": kind,
        "metadata": {"name": name},
        "spec": body.get("spec") or {},
    }


# Loading a policy (validating its documents, building its header rewrites) was most of a
# reconcile pass with many policies, and the same inputs always load the same. So the loads of
# the last pass are kept, keyed by everything a load reads, and reused by the next pass.
_Loaded = tuple[list[dict[str, Any]], Protection | None, str | None]
_loads: dict[str, _Loaded] = {}


def _load_key(world: World, csp: dict[str, Any]) -> str:
    namespace = namespace_of(csp)
    inputs: list[Any] = [namespace, name_of(csp), csp.get("apiVersion"), spec(csp)]
    for kind, name in _referenced(csp):
        found = world.get(kind, namespace, name)
        inputs.append(
            [kind, name, None if found is None else [found.get("apiVersion"), spec(found)]]
        )
    return json.dumps(inputs, sort_keys=True, default=str)


def load_policy(world: World, csp: dict[str, Any]) -> LoadedPolicy:
    """The policy's documents for a sidecar, with qualified names; or why it cannot load."""
    namespace = namespace_of(csp)
    loaded = LoadedPolicy(csp)
    docs = [_document("ContentSecurityPolicy", csp, loaded.name, _qualify_refs(csp, namespace))]
    for kind, name in _referenced(csp):
        found = world.get(kind, namespace, name)
        if found is None:
            loaded.error = f"{kind} {namespace}/{name} not found"
            return loaded
        docs.append(_document(kind, found, qualified(namespace, name), found))
    try:
        policy = load_policy_documents([(f"{kind_of(d)} {d['metadata']['name']}", d) for d in docs])
        rewrites = (
            HeaderRewrites.from_spec(policy.header_rewrites, "HeaderRewrites spec")
            if policy.secured
            else None
        )
    except PolicyError as exc:
        loaded.error = str(exc)
        return loaded
    loaded.documents = docs
    loaded.protection = Protection(loaded.name if policy.secured else None, rewrites)
    return loaded


def kind_of(doc: dict[str, Any]) -> str:
    return str(doc.get("kind", ""))


def default_protection(gateway: GatewayState) -> Protection:
    defaults = (gateway.parameters.filled.get("defaults") or {}).get("contentSecurity") or {}
    if "unsecured" in defaults:
        return Protection(None, None)
    return Protection(DEFAULT_POLICY, HeaderRewrites.from_spec(None))


def _created(obj: dict[str, Any]) -> tuple[str, str]:
    return (str(meta(obj).get("creationTimestamp", "")), name_of(obj))


def content_security(
    world: World,
    gateways: dict[tuple[str, str], GatewayState],
    routes: dict[tuple[str, str], RouteState],
) -> PolicyOutcome:
    global _loads
    loaded: dict[tuple[str, str], LoadedPolicy] = {}
    loads: dict[str, _Loaded] = {}
    for csp in world.all("ContentSecurityPolicy"):
        inputs = _load_key(world, csp)
        policy = LoadedPolicy(csp, *_loads[inputs]) if inputs in _loads else load_policy(world, csp)
        loads[inputs] = (policy.documents, policy.protection, policy.error)
        loaded[(namespace_of(csp), name_of(csp))] = policy
    _loads = loads  # what no policy needs any more is dropped
    # route key -> policies targeting it, oldest first: the oldest wins a conflict
    targeting: dict[tuple[str, str], list[tuple[str, str]]] = {}
    ancestors: dict[tuple[str, str], list[tuple[dict[str, Any], Condition]]] = {}
    for key, policy in sorted(loaded.items(), key=lambda item: _created(item[1].obj)):
        entries: list[tuple[dict[str, Any], Condition]] = []
        ancestors[key] = entries
        for target in spec(policy.obj).get("targetRefs") or []:
            target_ref = {
                "group": ref_group(target, GATEWAY_GROUP),
                "kind": ref_kind(target, "HTTPRoute"),
                "namespace": key[0],
                "name": str(target.get("name", "")),
            }
            if target_ref["group"] != GATEWAY_GROUP or target_ref["kind"] != "HTTPRoute":
                entries.append(
                    (
                        target_ref,
                        Condition("Accepted", False, "Invalid", "Only HTTPRoutes can be targeted."),
                    )
                )
                continue
            route_key = (key[0], target_ref["name"])
            if world.get("HTTPRoute", *route_key) is None:
                entries.append(
                    (
                        target_ref,
                        Condition(
                            "Accepted",
                            False,
                            "TargetNotFound",
                            f"HTTPRoute {route_key[0]}/{route_key[1]} not found",
                        ),
                    )
                )
                continue
            targeting.setdefault(route_key, []).append(key)
            winner = targeting[route_key][0]
            if policy.error:
                condition = Condition("Accepted", False, "Invalid", policy.error)
            elif winner != key:
                condition = Condition(
                    "Accepted",
                    False,
                    "Conflicted",
                    f"HTTPRoute {route_key[1]} is already targeted by ContentSecurityPolicy "
                    f"{winner[1]}",
                )
            else:
                condition = Condition("Accepted", True, "Accepted", "The policy is in effect.")
            state = routes.get(route_key)
            for gateway_key in sorted(state.entries) if state else []:
                ancestor = {
                    "group": GATEWAY_GROUP,
                    "kind": "Gateway",
                    "namespace": gateway_key[0],
                    "name": gateway_key[1],
                }
                entries.append((ancestor, condition))
        del entries[MAX_ANCESTORS:]

    protection: dict[tuple[str, str], Protection] = {}
    documents: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in gateways}
    for route_key, state in routes.items():
        targeted_by = targeting.get(route_key)
        chosen = loaded[targeted_by[0]] if targeted_by else None
        if chosen is not None and chosen.protection is not None:
            protection[route_key] = chosen.protection
            for gateway_key in state.entries:
                documents[gateway_key].extend(chosen.documents)
    return PolicyOutcome(protection, ancestors, _unique(documents))


def _unique(
    documents: dict[tuple[str, str], list[dict[str, Any]]],
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Each resource once per Gateway (two policies may share a DenyRules)."""
    result = {}
    for key, docs in documents.items():
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for doc in docs:
            seen.setdefault((kind_of(doc), doc["metadata"]["name"]), doc)
        result[key] = [seen[k] for k in sorted(seen)]
    return result
