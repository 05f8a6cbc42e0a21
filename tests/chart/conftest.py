"""Fixtures of the chart tests: the real control plane of tests/k8s (`control_plane`,
`namespace`, `k8s_bin_dir`) and the real helm built beside it."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, home of the k8s package
from chart_helm import Helm
from k8s import conftest as k8s_fixtures

control_plane = k8s_fixtures.control_plane
k8s_bin_dir = k8s_fixtures.k8s_bin_dir
namespace = k8s_fixtures.namespace


@pytest.fixture(scope="session")
def helm(k8s_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """helm for rendering (no cluster)."""
    return Helm(k8s_bin_dir / "helm", tmp_path_factory.mktemp("helm"))
