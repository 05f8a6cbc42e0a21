"""Fixtures for tests against a real control plane (see controlplane.py).

`control_plane` is started once per session, with the controller manager (garbage collection)
and the Gateway API standard CRDs; `namespace` gives each test a fresh namespace in it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .controlplane import ControlPlane, binaries_dir, gateway_api_crds


@pytest.fixture(scope="session")
def k8s_bin_dir(pytestconfig: pytest.Config) -> Path:
    """The control-plane binaries, built on first use (a cold build takes long)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    # Output not captured, so a long first build shows its progress instead of looking hung.
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        return binaries_dir()


@pytest.fixture(scope="session")
def control_plane(k8s_bin_dir: Path) -> Iterator[ControlPlane]:
    with ControlPlane(with_controller_manager=True, bin_dir=k8s_bin_dir).start() as cp:
        cp.install_crds(gateway_api_crds())
        yield cp


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    name = control_plane.new_namespace(request.node.name)
    yield name
    control_plane.delete_namespace(name)
