"""The generated CRDs: structural, documented, shaped like the reference API, and in agreement
with `SPECS[kind].load()` on realistic manifests."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_check import structural_errors, undocumented, validate

from airlock_filters.errors import PolicyError
from airlock_filters.resources import SPECS
from airlock_operator import crds

# shared/ lies beside the repository, for developers and CI alike.
REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "airlock-api-reference"
EXAMPLES = Path(__file__).with_name("examples.yaml")
GENERATED = {crd["spec"]["names"]["kind"]: crd for crd in crds.build_crds()}


def _reference(kind: str) -> dict[str, Any]:
    plural = GENERATED[kind]["spec"]["names"]["plural"]
    return yaml.safe_load((REFERENCE_DIR / f"{plural}.microgateway.airlock.com.yaml").read_text())


def _root(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _examples() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(EXAMPLES.read_text()))


def test_all_kinds_are_generated_from_specs() -> None:
    assert sorted(GENERATED) == sorted(SPECS) == sorted(
        ["AccessControlPolicy", "ContentSecurityPolicy", "DenyRules", "GatewayParameters",
         "HeaderRewrites", "JWKS", "JWT", "Limits", "Parser"]
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_crd_is_a_valid_structural_schema(kind: str) -> None:
    assert structural_errors(_root(GENERATED[kind])) == []


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_every_field_is_documented(kind: str) -> None:
    root = _root(GENERATED[kind])
    assert root["description"]
    assert undocumented(root) == []


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_names_scope_and_subresources_match_the_reference(kind: str) -> None:
    ours, ref = GENERATED[kind], _reference(kind)
    assert ours["metadata"]["name"] == ref["metadata"]["name"]
    assert ours["spec"]["group"] == ref["spec"]["group"]
    assert ours["spec"]["scope"] == ref["spec"]["scope"] == "Namespaced"
    assert ours["spec"]["names"] == ref["spec"]["names"]
    (version,) = ours["spec"]["versions"]
    (ref_version,) = ref["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    has_status = "status" in _root(ref)["properties"]
    assert ("status" in version.get("subresources", {})) is has_status
    assert ("status" in _root(ours)["properties"]) is has_status
    assert _root(ours).get("required") == _root(ref_version_dict(ref_version)).get("required")
    assert version["additionalPrinterColumns"][-1] == {
        "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"
    }  # fmt: skip
    policy_label = ref["metadata"]["labels"].get("gateway.networking.k8s.io/policy")
    assert ours["metadata"]["labels"].get("gateway.networking.k8s.io/policy") == policy_label


def ref_version_dict(version: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"versions": [version]}}


def test_printer_columns_point_at_declared_fields() -> None:
    for kind, crd in GENERATED.items():
        root = _root(crd)
        for column in crd["spec"]["versions"][0]["additionalPrinterColumns"]:
            # `.spec.a.b` must exist in our schema (status and metadata paths excepted).
            parts = re.findall(r"\.([A-Za-z]+)|\[\*\]", column["jsonPath"].split("[?")[0])
            if parts[0] != "spec":
                continue
            node = root
            for part in parts:
                if node.get("x-kubernetes-preserve-unknown-fields"):
                    break  # a reserved kind: fields are kept as written
                node = node["properties"][part] if part else node["items"]
            else:
                assert node.get("type") in ("string", "integer", None), (kind, column)
    columns = {k: [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
               for k, crd in GENERATED.items()}  # fmt: skip
    assert columns["DenyRules"] == ["Level", "Mode", "Age"]
    assert columns["ContentSecurityPolicy"] == ["Targets", "Accepted", "Age"]


# --- Shapes against the reference ----------------------------------------------------------------

QUANTITIES = ["0", "128", "8Ki", "100Mi", "1.5Gi", "500m", "1e3", "+1", "-1", "Mi", "1.2.3", "10MB"]


def _shape(node: dict[str, Any]) -> dict[str, Any]:
    """What decides which documents a schema accepts and how it defaults scalars."""
    keys = ("type", "enum", "minLength", "maxLength", "minItems", "maxItems", "minimum")
    out: dict[str, Any] = {k: node[k] for k in keys if k in node}
    out["required"] = sorted(node.get("required", []))
    if "pattern" in node:
        if node.get("x-kubernetes-int-or-string"):
            # Quantity patterns are spelled differently; compare what they accept.
            out["accepts"] = [q for q in QUANTITIES if re.search(node["pattern"], q)]
        else:
            out["pattern"] = node["pattern"]
    if "default" in node and node.get("type") != "object":
        out["default"] = node["default"]
    if "properties" in node:
        out["properties"] = {k: _shape(v) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = _shape(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _shape(node["additionalProperties"])
    if node.get("type") == "object":
        # Either/or groups. Uniqueness in lists is the list map's job and non-negative
        # quantities are checked by load(), so rules elsewhere are compared case by case.
        out["rules"] = sorted(r["message"] for r in node.get("x-kubernetes-validations", []))
    return out


def _differences(ours: Any, ref: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(ref, dict):
        out = []
        for key in sorted(set(ours) | set(ref)):
            if key not in ref:
                out.append(f"{path}/{key}: only ours")
            elif key not in ours:
                out.append(f"{path}/{key}: only in the reference")
            else:
                out += _differences(ours[key], ref[key], f"{path}/{key}")
        return out
    return [] if ours == ref else [f"{path}: {ours!r} != reference {ref!r}"]


@pytest.mark.parametrize("kind", ["DenyRules", "Limits", "Parser", "HeaderRewrites"])
def test_filter_specs_match_the_reference(kind: str) -> None:
    ours = _root(GENERATED[kind])["properties"]["spec"]
    ref = _root(_reference(kind))["properties"]["spec"]
    assert _differences(_shape(ours), _shape(ref)) == []


def test_content_security_policy_matches_the_reference() -> None:
    ours = copy.deepcopy(_root(GENERATED["ContentSecurityPolicy"])["properties"])
    ref = _root(_reference("ContentSecurityPolicy"))["properties"]
    # Our one addition: a target may name one rule of the route (Gateway API sectionName).
    target = ours["spec"]["properties"]["targetRefs"]["items"]["properties"]
    assert target.pop("sectionName")["type"] == "string"
    assert _differences(_shape(ours["spec"]), _shape(ref["spec"])) == []
    rules = [
        [r["rule"] for r in schema["spec"]["properties"]["targetRefs"]["x-kubernetes-validations"]]
        for schema in (ours, ref)
    ]
    assert rules[0] == rules[1]
    assert _differences(_shape(ours["status"]), _shape(ref["status"])) == []
    acp_status = _root(GENERATED["AccessControlPolicy"])["properties"]["status"]
    assert _differences(_shape(acp_status), _shape(ref["status"])) == []


# Where we differ from the reference on purpose (MISSION "Control plane" 2): a ClusterIP
# Service unless asked otherwise, and the engine's resource default in the schema itself.
GATEWAY_PARAMETERS_DEVIATIONS = {
    ".kubernetes.service.type": ("ClusterIP", "LoadBalancer"),
    ".kubernetes.deployment.engineContainer.resources": (
        {"requests": {"cpu": "100m", "memory": "256Mi"}},
        None,
    ),
}


def _compare_modelled(ours: dict[str, Any], ref: dict[str, Any], path: str, out: list[str]) -> None:
    """Every field the reference has exists in ours; where ours is modelled (not an opaque
    embedded Kubernetes type), types, enums and scalar defaults agree."""
    if ours.get("x-kubernetes-preserve-unknown-fields"):
        return
    if path in GATEWAY_PARAMETERS_DEVIATIONS:
        expected_ours, expected_ref = GATEWAY_PARAMETERS_DEVIATIONS[path]
        if (ours.get("default"), ref.get("default")) != (expected_ours, expected_ref):
            out.append(f"{path}: deviation changed")
    else:
        keys = ("type", "enum", "minItems", "maxItems", "minLength", "maxLength", "minimum")
        for key in (*keys, "maxProperties"):
            if ours.get(key) != ref.get(key):
                out.append(f"{path}: {key} {ours.get(key)!r} != reference {ref.get(key)!r}")
        if ref.get("type") != "object" and ours.get("default") != ref.get("default"):
            out.append(f"{path}: default {ours.get('default')!r} != {ref.get('default')!r}")
    if sorted(ours.get("required", [])) != sorted(ref.get("required", [])):
        out.append(f"{path}: required differs")
    for name, child in ref.get("properties", {}).items():
        if name not in ours.get("properties", {}):
            out.append(f"{path}.{name}: missing")
        else:
            _compare_modelled(ours["properties"][name], child, f"{path}.{name}", out)
    if "items" in ref and "items" in ours:
        _compare_modelled(ours["items"], ref["items"], f"{path}[]", out)


def test_gateway_parameters_match_the_reference_where_modelled() -> None:
    ours = _root(GENERATED["GatewayParameters"])["properties"]["spec"]
    ref = _root(_reference("GatewayParameters"))["properties"]["spec"]
    assert sorted(ours["properties"]) == sorted(ref["properties"])
    problems: list[str] = []
    _compare_modelled(ours, ref, "", problems)
    assert problems == []
    # The top levels are modelled, not opaque; embedded Kubernetes types are opaque.
    deployment = ours["properties"]["kubernetes"]["properties"]["deployment"]["properties"]
    assert "x-kubernetes-preserve-unknown-fields" not in deployment["placement"]
    assert deployment["placement"]["properties"]["affinity"]["x-kubernetes-preserve-unknown-fields"]
    assert "core/v1 Volume" in deployment["volumes"]["items"]["description"]


# --- Manifests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", _examples(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_example_manifests_are_accepted_everywhere(doc: dict[str, Any]) -> None:
    kind = doc["kind"]
    body = {k: v for k, v in doc.items() if k != "metadata"}
    assert validate(body, _root(_reference(kind))) == [], "example not valid for the reference"
    assert validate(body, _root(GENERATED[kind])) == []
    loaded = SPECS[kind].load(doc.get("spec"), "spec")
    # What load() fills in is what the API server would store: valid against our schema.
    assert validate(loaded, _root(GENERATED[kind])["properties"]["spec"]) == []


def test_all_kinds_have_examples() -> None:
    assert {d["kind"] for d in _examples()} == set(SPECS)


def test_empty_specs_load_with_defaults() -> None:
    gateway = SPECS["GatewayParameters"].load({}, "spec")
    assert gateway["kubernetes"]["service"] == {"type": "ClusterIP"}
    assert gateway["kubernetes"]["deployment"]["engineContainer"]["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"}
    }
    assert "replicas" not in gateway["kubernetes"]["deployment"]  # left to the operator / HPA
    assert gateway["logging"] == {"level": "info"}
    assert SPECS["JWT"].load({"anything": [1]}, "spec") == {"anything": [1]}


ROUTE = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "shop"}


BAD_SPECS = [
        ("ContentSecurityPolicy", {}, "spec.targetRefs"),
        ("ContentSecurityPolicy", {"targetRefs": []}, "spec.targetRefs"),
        ("ContentSecurityPolicy", {"targetRefs": [{**ROUTE, "kind": "Gateway"}]}, "spec.targetRefs"),
        ("ContentSecurityPolicy", {"targetRefs": [{**ROUTE, "group": "example.com"}]}, "spec.targetRefs"),
        ("ContentSecurityPolicy", {"targetRefs": [ROUTE, ROUTE]}, "spec.targetRefs[1]"),
        ("ContentSecurityPolicy", {"targetRefs": [{"kind": "HTTPRoute", "name": "a"}]}, "spec.targetRefs[0].group"),
        ("ContentSecurityPolicy", {"targetRefs": [ROUTE], "secured": {}, "unsecured": {}}, "spec"),
        ("ContentSecurityPolicy", {"targetRefs": [ROUTE], "secured": {"limitsRef": {}}}, "spec.secured.limitsRef.name"),
        ("ContentSecurityPolicy", {"targetRefs": [ROUTE], "secured": {"denyRulesRef": {"name": "d"}}},
         "spec.secured.denyRulesRef"),
        ("GatewayParameters", {"logging": {"level": "verbose"}}, "spec.logging.level"),
        ("GatewayParameters", {"kubernetes": {"service": {"type": "External"}}}, "spec.kubernetes.service.type"),
        ("GatewayParameters", {"kubernetes": {"service": {"externalTrafficPolicy": "Local"}}},
         "spec.kubernetes.service.externalTrafficPolicy"),
        ("GatewayParameters", {"kubernetes": {"service": {"type": "NodePort", "loadBalancerClass": "x"}}},
         "spec.kubernetes.service.loadBalancerClass"),
        ("GatewayParameters", {"kubernetes": {"service": {"annotations": {"bad key!": "v"}}}},
         "spec.kubernetes.service.annotations"),
        ("GatewayParameters", {"kubernetes": {"service": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}}}},
         "spec.kubernetes.service.sessionAffinityConfig.clientIP.timeoutSeconds"),
        ("GatewayParameters", {"kubernetes": {"deployment": {"replicas": 0}}}, "spec.kubernetes.deployment.replicas"),
        ("GatewayParameters", {"kubernetes": {"deployment": {"volumes": [{"emptyDir": {}}]}}},
         "spec.kubernetes.deployment.volumes[0].name"),
        ("GatewayParameters", {"kubernetes": {"deployment": {"volumes": [{"name": "a"}, {"name": "a"}]}}},
         "spec.kubernetes.deployment.volumes[1]"),
        ("GatewayParameters", {"kubernetes": {"deployment": {"placement": {"tolerations": {"key": "x"}}}}},
         "spec.kubernetes.deployment.placement.tolerations"),
        ("GatewayParameters", {"kubernetes": {"deployment": {"placement": {"affinity": []}}}},
         "spec.kubernetes.deployment.placement.affinity"),
        ("GatewayParameters", {"kubernetes": {"deployment": {"engineContainer": {"resources": {
            "requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}}}}},
         "spec.kubernetes.deployment.engineContainer.resources"),
        ("GatewayParameters", {"defaults": {"contentSecurity": {"secured": {}, "unsecured": {}}}},
         "spec.defaults.contentSecurity"),
        ("GatewayParameters", {"defaults": {"downstream": {"remoteIP": {"xff": {"numTrustedHops": 0}}}}},
         "spec.defaults.downstream.remoteIP.xff.numTrustedHops"),
        ("GatewayParameters", {"kubernetes": {"deploymnet": {}}}, "spec.kubernetes.deploymnet"),
        ("JWT", ["not", "an", "object"], "spec"),
        ("DenyRules", {"request": {"builtIn": {"settings": {"level": "Paranoid"}}}}, "spec.request.builtIn.settings.level"),
        ("Limits", {"request": {"limited": {"general": {"bodySize": "-1Ki"}}}}, "spec.request.limited.general.bodySize"),
        ("Limits", {"request": {"unlimited": {}, "limited": {}}}, "spec.request"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "path"), BAD_SPECS)
def test_bad_values_name_their_field(kind: str, spec: Any, path: str) -> None:
    with pytest.raises(PolicyError) as info:
        SPECS[kind].load(spec, "spec")
    assert info.value.path == path


def test_cli_writes_one_file_per_crd(tmp_path: Path) -> None:
    assert crds.main(["--out", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"{c['spec']['names']['plural']}.microgateway.airlock.com.yaml"
                           for c in GENERATED.values())  # fmt: skip
    for name in files:
        written = yaml.safe_load((tmp_path / name).read_text())
        assert written == GENERATED[written["spec"]["names"]["kind"]]
