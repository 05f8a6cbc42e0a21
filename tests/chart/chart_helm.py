"""The real `helm` (built by tests/k8s/build_binaries.sh) on our chart: lint, template, install,
test, uninstall, with its own cache and config directories so that nothing of the user's Helm
setup (repositories, plugins, discovery cache) takes part."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "airlock-microgateway-operator"
RELEASE = "airlock-microgateway-operator"
NAMESPACE = "airlock-microgateway-system"
# `helm template` knows no cluster: the version and the API a cluster would report.
KUBE_VERSION = "1.34.0"
GATEWAY_API = [
    f"gateway.networking.k8s.io/v1/{kind}"
    for kind in ("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant")
]
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"


class HelmError(RuntimeError):
    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"helm {' '.join(result.args[1:])} failed:\n{result.stderr}")
        self.result = result


class Helm:
    def __init__(self, binary: Path, home: Path, kubeconfig: Path | None = None) -> None:
        self.binary = binary
        self.home = home
        self.kubeconfig = kubeconfig
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        result = subprocess.run(
            [str(self.binary), *args], env=env, capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise HelmError(result)
        return result

    def values_file(self, values: dict[str, Any] | None) -> list[str]:
        """`-f FILE` for these values: a YAML file keeps their types (as --set would not)."""
        if not values:
            return []
        path = self.home / f"values-{len(list(self.home.glob('values-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(values))
        return ["-f", str(path)]

    def template(
        self,
        values: dict[str, Any] | None = None,
        *,
        release: str = RELEASE,
        namespace: str = NAMESPACE,
        api_versions: Sequence[str] = GATEWAY_API,
        extra: Sequence[str] = (),
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        args = ["template", release, str(CHART), "--namespace", namespace]
        args += ["--kube-version", KUBE_VERSION]
        for api in api_versions:
            args += ["--api-versions", api]
        return self.run(*args, *self.values_file(values), *extra, check=check)

    def render(self, values: dict[str, Any] | None = None, **kwargs: Any) -> Manifest:
        return Manifest.parse(self.template(values, **kwargs).stdout)

    def install(
        self, release: str, namespace: str, values: dict[str, Any] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "install",
            release,
            str(CHART),
            "--namespace",
            namespace,
            *self.values_file(values),
            check=check,
        )


class Manifest:
    """The objects of a rendered chart, by kind and name."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    @classmethod
    def parse(cls, text: str) -> Manifest:
        return cls([doc for doc in yaml.safe_load_all(text) if doc])

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [d for d in self.all(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} {name or ''} in the manifest"
        return found[0]

    def names(self, kind: str) -> list[str]:
        return [doc["metadata"]["name"] for doc in self.all(kind)]

    def kinds(self) -> set[str]:
        return {doc["kind"] for doc in self.docs}

    def settings(self) -> dict[str, Any]:
        """The operator's settings file, as the chart's ConfigMap holds it."""
        data = yaml.safe_load(self.one("ConfigMap")["data"]["settings.yaml"])
        assert isinstance(data, dict)
        return data

    def container(self) -> dict[str, Any]:
        containers = self.one("Deployment")["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        return dict(containers[0])

    def hooks(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if "helm.sh/hook" in (d["metadata"].get("annotations") or {})]


def api_path(doc: dict[str, Any]) -> str:
    """The API server path of a manifest object (the plural is the lower-case kind + s for
    every kind the chart renders but GatewayClass)."""
    group_version = doc["apiVersion"]
    base = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
    plural = {"GatewayClass": "gatewayclasses"}.get(doc["kind"], doc["kind"].lower() + "s")
    namespace = doc["metadata"].get("namespace")
    if namespace:
        base += f"/namespaces/{namespace}"
    return f"{base}/{plural}/{doc['metadata']['name']}"
