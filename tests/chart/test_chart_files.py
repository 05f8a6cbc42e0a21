"""The chart's files against their sources: CRDs as the operator generates them, the values
documentation (README table, comments, schema) in step with values.yaml, the image defaults in
step with the operator's."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from chart_helm import CHART
from kopf._cogs.structs.references import CLUSTER_PEERINGS_K
from values_doc import IGNORED, descriptions, leaves, render_readme, table

from airlock_operator import crds
from airlock_operator.settings import Settings

KOPF_CRD = "clusterkopfpeerings.kopf.dev.yaml"


def test_crds_are_the_generators_output(tmp_path: Path) -> None:
    generated = {path.name: path.read_text() for path in crds.write(tmp_path)}
    in_chart = {path.name: path.read_text() for path in (CHART / "crds").glob("*")}
    # kopf's peering kind is the one CRD the generator does not write (it is kopf's).
    assert in_chart.pop(KOPF_CRD)
    stale = sorted(name for name in in_chart if in_chart[name] != generated.get(name))
    missing = sorted(set(generated) - set(in_chart))
    assert not stale and not missing, (
        f"crds/ is out of date (stale: {stale}, missing: {missing}); regenerate it: "
        "python -m airlock_operator.crds --out charts/airlock-microgateway-operator/crds"
    )


def test_kopf_peering_crd_is_the_kind_kopf_uses() -> None:
    crd = yaml.safe_load((CHART / "crds" / KOPF_CRD).read_text())
    (version,) = crd["spec"]["versions"]
    assert (crd["spec"]["group"], version["name"]) == (
        CLUSTER_PEERINGS_K.group,
        CLUSTER_PEERINGS_K.version,
    )
    assert crd["spec"]["names"]["plural"] == CLUSTER_PEERINGS_K.any_name
    assert crd["metadata"]["name"] == f"{CLUSTER_PEERINGS_K.any_name}.kopf.dev"
    assert crd["spec"]["scope"] == "Cluster"
    # kopf keeps the peers in status: it must be stored, not pruned.
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    assert version["served"] and version["storage"]


def test_readme_values_table_is_current() -> None:
    readme = (CHART / "README.md").read_text()
    assert render_readme(readme, table()) == readme, (
        "the README's values table is out of date: python tests/chart/values_doc.py"
    )


def _keys(values: object, prefix: str = "") -> set[str]:
    if not isinstance(values, dict) or not values:
        return set()
    out = set()
    for key, value in values.items():
        out.add(f"{prefix}{key}")
        out |= _keys(value, f"{prefix}{key}.")
    return out


def test_every_value_is_documented_and_in_the_schema() -> None:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    schema = json.loads((CHART / "values.schema.json").read_text())
    documented = descriptions(text)
    listed = leaves(schema, values)
    undocumented = [key for key, _, _ in listed if not documented.get(key)]
    assert not undocumented, f"values without a description comment: {undocumented}"
    # Every listed key is in values.yaml, and every key of values.yaml is a listed key or lies
    # inside one (Kubernetes objects such as resources, passed through whole).
    leaf_keys = {key for key, _, _ in listed}
    assert leaf_keys <= _keys(values), sorted(leaf_keys - _keys(values))
    outside = sorted(
        key
        for key in _keys(values)
        if not any(key == leaf or key.startswith(f"{leaf}.") for leaf in leaf_keys)
        and not any(leaf.startswith(f"{key}.") for leaf in leaf_keys)
    )
    assert not outside, f"values.yaml keys the schema does not describe: {outside}"
    assert not IGNORED & set(values)


def test_schema_is_closed_where_the_chart_defines_the_shape() -> None:
    """A misspelt key is rejected, not silently ignored (objects passed through to Kubernetes
    are open: their schema is Kubernetes')."""
    schema = json.loads((CHART / "values.schema.json").read_text())

    def closed(node: dict, path: str) -> list[str]:
        if "properties" not in node:
            return []
        out = [] if node.get("additionalProperties") is False else [path or "(root)"]
        for key, sub in node["properties"].items():
            out += closed(sub, f"{path}.{key}".lstrip("."))
        return out

    assert closed(schema, "") == []


def test_image_defaults_are_the_operators() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    defaults = Settings()
    assert values["engine"]["image"] == defaults.engine_image
    assert values["sidecar"]["image"] == defaults.sidecar_image
    assert values["sidecar"]["workers"] == defaults.sidecar_workers
    assert values["xds"]["port"] == defaults.xds_port
    assert values["metrics"]["port"] == defaults.metrics_port
    assert chart["appVersion"] == "0.1.0"
    assert values["image"]["repository"] == "ghcr.io/airlock-microgateway/operator"
