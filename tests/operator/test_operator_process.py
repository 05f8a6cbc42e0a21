"""The operator's command, run as a process the way its Deployment runs it: settings file,
health endpoint, Prometheus metrics, and a clear error for a bad settings file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from harness import GW, condition, create, gateway_class, status_is
from k8s.controlplane import ControlPlane, wait_for

from airlock_microgateway.gateway import free_port

COMMAND = [sys.executable, "-m", "airlock_operator"]


def test_bad_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("certificates:\n  renewalPeriod: soon\n")
    result = subprocess.run(
        [*COMMAND, "--settings", str(settings)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "not a duration" in result.stderr and "soon" in result.stderr


@pytest.fixture
def operator_process(
    control_plane: ControlPlane, operator_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[int, int]]:
    """The operator as a process; (health port, metrics port)."""
    health, metrics = free_port(), free_port()
    settings = yaml.safe_load(Path(operator_env["AIRLOCK_OPERATOR_SETTINGS"]).read_text())
    settings["xds"]["port"] = free_port()
    settings["metrics"] = {"port": metrics, "listen": "127.0.0.1"}
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    log = open(tmp_path / "operator.log", "wb")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        [
            *COMMAND,
            "--settings",
            str(path),
            "--standalone",
            "--liveness",
            f"http://127.0.0.1:{health}/healthz",
        ],
        env={**os.environ, "KUBECONFIG": operator_env["KUBECONFIG"]},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield health, metrics
    finally:
        process.terminate()
        code = process.wait(30)
        log.close()
        assert code == 0, (tmp_path / "operator.log").read_text()[-3000:]


def answers(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return response if response.status_code == 200 else None


def test_operator_process_reconciles_and_reports_health_and_metrics(
    control_plane: ControlPlane, operator_process: tuple[int, int], namespace: str
) -> None:
    health, metrics = operator_process
    wait_for(lambda: answers(f"http://127.0.0.1:{health}/healthz"), "health endpoint")
    name = f"airlock-{namespace}"
    create(control_plane, f"{GW}/gatewayclasses", gateway_class(name))
    wait_for(
        lambda: status_is(
            control_plane,
            f"{GW}/gatewayclasses/{name}",
            lambda s: condition(s.get("conditions"), "Accepted"),
            ("True", "Accepted"),
        ),
        "GatewayClass Accepted by the operator process",
    )
    scrape = wait_for(lambda: answers(f"http://127.0.0.1:{metrics}/metrics"), "metrics")
    assert "airlock_operator_reconcile_seconds_count" in scrape.text
    assert "airlock_operator_api_write_failures_total" in scrape.text
