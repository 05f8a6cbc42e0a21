"""The generated CRDs in a real kube-apiserver (tests/k8s/controlplane.py): they install, accept
the example manifests, default them exactly as `SPECS[kind].load()` does, and reject what
`load()` rejects."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock_filters.resources import SPECS
from airlock_operator import crds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, home of the k8s package
from k8s.controlplane import ControlPlane, binaries_dir
from test_crds import BAD_SPECS, EXAMPLES

BASE = f"/apis/{crds.API_GROUP}/{crds.VERSION}/namespaces"
PLURALS = {kind.kind: kind.plural for kind in crds.KINDS}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, str]]:
    try:
        bin_dir = binaries_dir()
    except Exception as exc:  # no toolchain to build etcd/kube-apiserver here
        pytest.skip(f"control-plane binaries unavailable: {exc}")
    out = tmp_path_factory.mktemp("crds")
    crds.write(out)
    with ControlPlane(bin_dir=bin_dir).start() as cp:
        assert len(cp.install_crds([out])) == len(crds.KINDS)
        yield cp, cp.new_namespace("crds")


def _create(cp: ControlPlane, namespace: str, kind: str, spec: Any, name: str) -> Any:
    body = {
        "apiVersion": f"{crds.API_GROUP}/{crds.VERSION}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
    # Strict: unknown fields are errors, not silently pruned (as `load()` treats them).
    return cp.api.post(
        f"{BASE}/{namespace}/{PLURALS[kind]}", params={"fieldValidation": "Strict"}, json=body
    )


def _paths(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {path} | {p for k, v in value.items() for p in _paths(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {path} | {p for i, v in enumerate(value) for p in _paths(v, f"{path}[{i}]")}
    return {path}


# LIMITS_SPEC renders `limited` with `default: {}`, so the API server fills it in next to
# `unlimited` and then rejects the pair (the reference has no such default); load() checks the
# either/or before defaulting and accepts it. To be fixed in the Limits spec.
KNOWN_ISSUES: dict[str, str] = {}  # example name -> why the API server disagrees with load()


def _example_params() -> list[Any]:
    return [
        pytest.param(
            doc,
            id=f"{doc['kind']}/{doc['metadata']['name']}",
            marks=[pytest.mark.xfail(reason=KNOWN_ISSUES[doc["metadata"]["name"]], strict=True)]
            if doc["metadata"]["name"] in KNOWN_ISSUES
            else [],
        )
        for doc in yaml.safe_load_all(EXAMPLES.read_text())
    ]


@pytest.mark.parametrize("doc", _example_params())
def test_examples_are_stored_with_the_defaults_load_fills_in(
    cluster: tuple[ControlPlane, str], doc: dict[str, Any]
) -> None:
    cp, namespace = cluster
    kind, name = doc["kind"], doc["metadata"]["name"]
    response = _create(cp, namespace, kind, doc.get("spec"), name)
    assert response.status_code == 201, response.text
    stored = response.json().get("spec")
    loaded = SPECS[kind].load(doc.get("spec"), "spec")
    # The same fields filled in (load() turns quantities into numbers, hence two checks).
    assert _paths(stored) == _paths(loaded)
    assert SPECS[kind].load(stored, "spec") == loaded


def test_what_load_rejects_the_api_server_rejects(cluster: tuple[ControlPlane, str]) -> None:
    cp, namespace = cluster
    accepted = []
    for i, (kind, spec, path) in enumerate(BAD_SPECS):
        response = _create(cp, namespace, kind, spec, f"bad-{i}")
        # 422 for invalid values, 400 for unknown fields (strict field validation).
        if response.status_code not in (400, 422):
            accepted.append((kind, path, response.status_code))
    assert accepted == []


def test_printer_columns_and_categories(cluster: tuple[ControlPlane, str]) -> None:
    cp, _ = cluster
    resources = cp.api.get(f"/apis/{crds.API_GROUP}/{crds.VERSION}").json()["resources"]
    by_name = {r["name"]: r for r in resources}
    for kind in crds.KINDS:
        assert by_name[kind.plural]["categories"] == ["airlock-microgateway"]
        assert by_name[kind.plural]["namespaced"] is True
        assert (f"{kind.plural}/status" in by_name) is kind.policy
