"""CustomResourceDefinitions of `microgateway.airlock.com/v1alpha1`, rendered from our schemas.

The spec of every kind comes from `airlock_filters.resources.SPECS`, the same objects the engine
loads policies with, so the API server and the engine agree on names, enums and defaults. This
module only adds what belongs to the CRD: names, printer columns and the status schema.

    python -m airlock_operator.crds --out DIR   # one <plural>.<group>.yaml per CRD (Helm crds/)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airlock_filters.resources import API_GROUP, DNS_SUBDOMAIN, GROUP_PATTERN, KIND_PATTERN, SPECS
from airlock_filters.spec import Array, Checked, Int, KeyedList, Object, Rule, Schema, Str

VERSION = "v1alpha1"
CATEGORIES = ["airlock-microgateway"]
CONTROLLER_NAME = f"{API_GROUP}/gatewayclass-controller"


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    description: str
    spec_required: bool = False
    # Policies attached to Gateway API routes report per Gateway in `status.ancestors`.
    policy: bool = False
    columns: Sequence[dict[str, str]] = field(default_factory=tuple)


def _column(name: str, json_path: str, type: str = "string", description: str = "") -> dict:
    out = {"name": name, "type": type, "jsonPath": json_path}
    if description:
        out["description"] = description
    return out


ACCEPTED = _column(
    "Accepted",
    '.status.ancestors[0].conditions[?(@.type=="Accepted")].status',
    description="Accepted condition for the first Gateway the policy applies to.",
)

KINDS: tuple[Kind, ...] = (
    Kind(
        "ContentSecurityPolicy",
        "contentsecuritypolicies",
        "contentsecuritypolicy",
        "Protects HTTPRoutes: selects the DenyRules, Limits, Parser and HeaderRewrites applied "
        "to their traffic, or switches protection off. A Gateway API direct policy.",
        spec_required=True,
        policy=True,
        columns=(_column("Targets", ".spec.targetRefs[*].name"), ACCEPTED),
    ),
    Kind(
        "DenyRules",
        "denyrules",
        "denyrules",
        "Built-in and custom deny rules that block attacks (SQL injection, XSS, ...) in "
        "requests, with overrides and exceptions. Referenced by ContentSecurityPolicies.",
        columns=(
            _column("Level", ".spec.request.builtIn.settings.level"),
            _column("Mode", ".spec.request.builtIn.settings.threatHandlingMode"),
        ),
    ),
    Kind(
        "Limits",
        "limits",
        "limits",
        "Size and count limits of requests (body, path, parameters, JSON, multipart). "
        "Referenced by ContentSecurityPolicies.",
        columns=(
            _column("Mode", ".spec.settings.threatHandlingMode"),
            _column("Body-Size", ".spec.request.limited.general.bodySize"),
        ),
    ),
    Kind(
        "Parser",
        "parsers",
        "parser",
        "Which request bodies are parsed (form, JSON, multipart) so their fields can be "
        "filtered. Referenced by ContentSecurityPolicies.",
        columns=(_column("Default-Content-Type", ".spec.request.defaultContentType"),),
    ),
    Kind(
        "HeaderRewrites",
        "headerrewrites",
        "headerrewrites",
        "Request and response header allow lists, removals and additions (security "
        "headers). Referenced by ContentSecurityPolicies.",
        columns=(_column("Mode", ".spec.settings.operationalMode"),),
    ),
    Kind(
        "GatewayParameters",
        "gatewayparameters",
        "gatewayparameters",
        "How the operator deploys a Gateway (Deployment, Service, logging, defaults). "
        "Referenced by a GatewayClass or a Gateway; a Gateway's replaces its class's, "
        "without merging.",
        spec_required=True,
        columns=(
            _column("Service-Type", ".spec.kubernetes.service.type"),
            _column("Replicas", ".spec.kubernetes.deployment.replicas", "integer"),
            _column("Log-Level", ".spec.logging.level"),
        ),
    ),
    Kind(
        "AccessControlPolicy",
        "accesscontrolpolicies",
        "accesscontrolpolicy",
        "Access control (JWT validation) for HTTPRoutes. Reserved: accepted and stored; "
        "validated and enforced in a later version.",
        spec_required=True,
        policy=True,
        columns=(_column("Targets", ".spec.targetRefs[*].name"), ACCEPTED),
    ),
    Kind(
        "JWT",
        "jwts",
        "jwt",
        "How JWTs are extracted and which claims they must carry; used by "
        "AccessControlPolicies. Reserved: validated in a later version.",
        spec_required=True,
    ),
    Kind(
        "JWKS",
        "jwks",
        "jwks",
        "Where the keys that sign JWTs come from; used by JWTs. Reserved: validated in a "
        "later version.",
        spec_required=True,
    ),
)

_CONDITION = Object(
    {
        "type": Str(
            max_length=316,
            pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
            r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
            description="Condition type, e.g. Accepted or ResolvedRefs.",
        ),
        "status": Str(enum=("True", "False", "Unknown"), description="True, False or Unknown."),
        "reason": Str(
            min_length=1,
            max_length=1024,
            pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
            description="Why the condition has this status, in CamelCase, e.g. Conflicted.",
        ),
        "message": Str(max_length=32768, description="Details for humans; may be empty."),
        "lastTransitionTime": Str(format="date-time", description="When the status last changed."),
        "observedGeneration": Int(
            minimum=0, description="The metadata.generation the condition was computed for."
        ),
    },
    required=["lastTransitionTime", "message", "reason", "status", "type"],
    description="One aspect of the policy's state (metav1.Condition).",
)

_ANCESTOR_REF = Object(
    {
        "group": Str(
            default="gateway.networking.k8s.io",
            max_length=253,
            pattern=GROUP_PATTERN,
            description="API group of the ancestor.",
        ),
        "kind": Str(
            default="Gateway",
            min_length=1,
            max_length=63,
            pattern=KIND_PATTERN,
            description="Kind of the ancestor, usually Gateway.",
        ),
        "name": Str(min_length=1, max_length=253, description="Name of the ancestor."),
        "namespace": Str(
            min_length=1,
            max_length=63,
            pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            description="Namespace of the ancestor; unset means the policy's namespace.",
        ),
        "port": Checked(
            Int(minimum=1, description="Port of the listener(s) meant."),
            [Rule("self <= 65535", "port must be at most 65535", lambda p: p <= 65535)],
        ),
        "sectionName": Str(
            min_length=1,
            max_length=253,
            pattern=DNS_SUBDOMAIN,
            description="Listener name within the Gateway.",
        ),
    },
    required=["name"],
    description="The Gateway (or other ancestor) this entry is about.",
)

POLICY_STATUS = Object(
    {
        "ancestors": Array(
            Object(
                {
                    "ancestorRef": _ANCESTOR_REF,
                    "controllerName": Str(
                        min_length=1,
                        max_length=253,
                        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
                        r"\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$",
                        description=f"Controller that wrote this entry ({CONTROLLER_NAME}).",
                    ),
                    "conditions": KeyedList(
                        _CONDITION,
                        keys=["type"],
                        min_items=1,
                        max_items=8,
                        description="State of the policy for this ancestor: Accepted, or "
                        "why not (conflicts, references that do not resolve).",
                    ),
                },
                required=["ancestorRef", "conditions", "controllerName"],
                description="The policy's status for one ancestor and controller.",
            ),
            max_items=16,
            description="Status per Gateway the policy applies to (Gateway API PolicyStatus).",
        )
    },
    required=["ancestors"],
    description="Observed state, written by the operator.",
)


def build_crd(kind: Kind, spec: Schema | None = None) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CRD of one kind; `spec` defaults to `SPECS[kind.kind]`."""
    spec_schema = (spec or SPECS[kind.kind]).openapi()
    spec_schema.setdefault("description", f"Desired state of the {kind.kind}.")
    properties: dict[str, Any] = {
        "apiVersion": {
            "type": "string",
            "description": f"Versioned schema of this object: {API_GROUP}/{VERSION}.",
        },
        "kind": {"type": "string", "description": f"Type of this object: {kind.kind}."},
        # The API server owns metadata's schema: only name/generateName may be restricted.
        "metadata": {"type": "object"},
        "spec": spec_schema,
    }
    if kind.policy:
        properties["status"] = POLICY_STATUS.openapi()
    schema: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "properties": properties,
    }
    if kind.spec_required:
        schema["required"] = ["spec"]
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "additionalPrinterColumns": [
            *kind.columns,
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
    }
    if kind.policy:
        version["subresources"] = {"status": {}}
    labels = {"app.kubernetes.io/name": "airlock-microgateway-operator"}
    if kind.policy:
        labels["gateway.networking.k8s.io/policy"] = "direct"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{API_GROUP}", "labels": labels},
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "categories": list(CATEGORIES),
            },
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def build_crds() -> list[dict[str, Any]]:
    return [build_crd(kind) for kind in KINDS]


def to_yaml(crd: dict[str, Any]) -> str:
    return yaml.safe_dump(crd, sort_keys=False, width=100, allow_unicode=True)


def write(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for crd in build_crds():
        path = out / f"{crd['metadata']['name']}.yaml"
        path.write_text(to_yaml(crd))
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airlock_operator.crds", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="directory for one YAML file per CRD")
    args = parser.parse_args(argv)
    if args.out is None:
        print("---\n".join(to_yaml(crd) for crd in build_crds()), end="")
    else:
        for path in write(args.out):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
