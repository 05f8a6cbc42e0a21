"""The operator's configuration file and the names it shares with the engines it deploys.

The file is YAML; every key is optional:

    namespace: airlock-microgateway-system   # where the operator runs and keeps its CA
    xds:
      host: airlock-microgateway-operator-xds.airlock-microgateway-system.svc
      port: 13377                            # engines dial host:port over mTLS
      listen: 0.0.0.0
    certificates:
      renewalPeriod: 48h                     # bootstrap certificates are reissued this often
    images:
      engine: docker.io/envoyproxy/envoy:v1.40.0
      sidecar: ghcr.io/airlock-microgateway/sidecar:0.1.0
    sidecar:
      workers: 2
    metrics:
      port: 8080                             # Prometheus /metrics; 0: none
      listen: 0.0.0.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

# Shared with the engines (the sidecar's policy client reads them from the data plane side).
from airlock_microgateway.delivery import (  # noqa: F401
    CA_CERT_KEY,
    POLICY_RESOURCE,
    POLICY_TYPE_URL,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
)

CONTROLLER_NAME = "microgateway.airlock.com/gatewayclass-controller"
GROUP = "microgateway.airlock.com"
VERSION = "v1alpha1"
FIELD_MANAGER = "airlock-microgateway-operator"

CA_SECRET = "airlock-microgateway-ca-cert"
BOOTSTRAP_SECRET = "airlock-microgateway-bootstrap-secret"

# Inside the engine pods.
BOOTSTRAP_MOUNT = "/etc/airlock-microgateway/bootstrap"
SOCKET_DIR = "/run/airlock-microgateway"
ENGINE_ADMIN_PORT = 9901  # Envoy's admin interface, on loopback
ENGINE_READY_PORT = 9902  # Envoy's readiness listener, probed by kubelet
SIDECAR_METRICS_PORT = 9102
# The pod's own ports, which no Gateway listener can have (the containers share one network).
POD_PORTS = {
    ENGINE_ADMIN_PORT: "the engine's admin interface",
    ENGINE_READY_PORT: "the engine's readiness probe",
    SIDECAR_METRICS_PORT: "the sidecar's metrics",
}


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


class SettingsError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """`48h`, `90m`, `1h30m`, `5s`, `0.5s`."""
    match = _DURATION.match(str(text).strip())
    if not text or match is None or not any(match.groups()):
        raise SettingsError(f"not a duration like 48h, 30m or 10s: {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise SettingsError(f"duration must be positive: {text!r}")
    return duration


def node_id(namespace: str, gateway: str) -> str:
    """How an engine of a Gateway names itself to the operator (xDS node id)."""
    return f"{namespace}/{gateway}"


@dataclass(frozen=True)
class Settings:
    namespace: str = "airlock-microgateway-system"
    xds_host: str = "airlock-microgateway-operator-xds.airlock-microgateway-system.svc"
    xds_port: int = 13377
    xds_listen: str = "0.0.0.0"
    renewal_period: timedelta = timedelta(hours=48)
    engine_image: str = "docker.io/envoyproxy/envoy:v1.40.0"
    sidecar_image: str = "ghcr.io/airlock-microgateway/sidecar:0.1.0"
    sidecar_workers: int = 2
    metrics_port: int = 8080
    metrics_listen: str = "0.0.0.0"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Settings:
        data = data or {}
        if not isinstance(data, dict):
            raise SettingsError("the settings file must hold a mapping")
        known = {"namespace", "xds", "certificates", "images", "sidecar", "metrics"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(unknown)}")
        xds = data.get("xds") or {}
        certificates = data.get("certificates") or {}
        images = data.get("images") or {}
        defaults = cls()
        try:
            settings = cls(
                namespace=str(data.get("namespace", defaults.namespace)),
                xds_host=str(xds.get("host", defaults.xds_host)),
                xds_port=int(xds.get("port", defaults.xds_port)),
                xds_listen=str(xds.get("listen", defaults.xds_listen)),
                renewal_period=parse_duration(certificates["renewalPeriod"])
                if "renewalPeriod" in certificates
                else defaults.renewal_period,
                engine_image=str(images.get("engine", defaults.engine_image)),
                sidecar_image=str(images.get("sidecar", defaults.sidecar_image)),
                sidecar_workers=int((data.get("sidecar") or {}).get("workers", 2)),
                metrics_port=int((data.get("metrics") or {}).get("port", defaults.metrics_port)),
                metrics_listen=str(
                    (data.get("metrics") or {}).get("listen", defaults.metrics_listen)
                ),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"bad settings: {exc}") from exc
        if settings.sidecar_workers < 1:
            raise SettingsError("sidecar.workers must be at least 1")
        return settings

    @classmethod
    def load(cls, path: str | Path) -> Settings:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read settings {path}: {exc}") from exc
        return cls.from_dict(data)
