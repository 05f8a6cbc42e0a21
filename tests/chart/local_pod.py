"""The kubelet's part, done by the tests: the control plane of tests/k8s has no kubelet, so pods
are stored but never run. Two stand-ins, each doing only what a kubelet (with cluster DNS and
kube-proxy) would do with what the chart installed:

- OperatorProcess runs the operator container of the chart's Deployment as a local process:
  its command and args as rendered, its ConfigMap volume laid out as files, its emptyDir as a
  directory, its env (fieldRefs resolved), and a token of the pod's ServiceAccount (TokenRequest
  API, as the kubelet projects it) in a kubeconfig. One change: a pod has a network namespace of
  its own, a local process shares the host's, so the pod's listen address 0.0.0.0 becomes
  127.0.0.1 (the ports are the chart's, free ones chosen through its values).
- TestPodRunner completes `helm test` pods: runs their command locally, with the Service URLs
  of their env resolved the way cluster DNS and kube-proxy would (Service port -> targetPort ->
  the selected pod's container port, here the local operator process), and writes the outcome
  to the pod's status.phase, which is what `helm test` waits for.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml
from k8s.controlplane import ControlPlane, wait_for

LOOPBACK = "127.0.0.1"
SERVICE_URL = re.compile(r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc:(\d+)")


def ok(response: httpx.Response, what: str) -> Any:
    assert response.is_success, f"{what}: HTTP {response.status_code}: {response.text}"
    return response.json()


def service_account_kubeconfig(cp: ControlPlane, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig holding a fresh token of this ServiceAccount: its rights are RBAC's only."""
    token = ok(
        cp.api.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            },
        ),
        f"token of ServiceAccount {namespace}/{name}",
    )["status"]["token"]
    admin = yaml.safe_load(cp.kubeconfig.read_text())
    admin["users"] = [{"name": "user", "user": {"token": token}}]
    path.write_text(yaml.safe_dump(admin))
    return path


def _port(container: dict[str, Any], port: int | str) -> int:
    """A container port given by number or by name."""
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container.get("ports", []) if p["name"] == port]
    assert numbers, f"the container has no port named {port!r}"
    return int(numbers[0])


class OperatorProcess:
    """The operator pod of an installed release, as a local process (see the module doc)."""

    def __init__(
        self, cp: ControlPlane, namespace: str, deployment: str, workdir: Path, pod: str
    ) -> None:
        self.cp = cp
        self.namespace = namespace
        self.pod = pod
        self.workdir = workdir
        self.deployment = ok(
            cp.api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"),
            f"Deployment {deployment}",
        )
        spec = self.deployment["spec"]["template"]["spec"]
        (self.container,) = spec["containers"]
        self.spec = spec
        self.log_path = workdir / "operator.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _volumes(self) -> dict[str, Path]:
        """mountPath -> local directory, filled as the kubelet fills the volumes."""
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        mounts: dict[str, Path] = {}
        for mount in self.container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            local = self.workdir / "volumes" / mount["name"]
            local.mkdir(parents=True)
            if "configMap" in volume:
                name = volume["configMap"]["name"]
                config_map = ok(
                    self.cp.api.get(f"/api/v1/namespaces/{self.namespace}/configmaps/{name}"),
                    f"ConfigMap {name}",
                )
                for key, text in config_map.get("data", {}).items():
                    (local / key).write_text(text.replace("0.0.0.0", LOOPBACK))
            else:
                assert "emptyDir" in volume, f"volume kind of {volume} not handled here"
            mounts[mount["mountPath"]] = local
        return mounts

    def _env(self) -> dict[str, str]:
        env = {}
        for var in self.container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
                continue
            field = var["valueFrom"]["fieldRef"]["fieldPath"]
            env[var["name"]] = {"metadata.name": self.pod, "metadata.namespace": self.namespace}[
                field
            ]
        return env

    def start(self) -> OperatorProcess:
        mounts = self._volumes()
        # Container paths to the local directories, in one pass (a local directory may itself
        # lie under a mount path such as /tmp).
        in_mount = re.compile("|".join(re.escape(f"{path}/") for path in mounts))
        args = [
            in_mount.sub(lambda m: f"{mounts[m.group(0)[:-1]]}/", arg).replace("0.0.0.0", LOOPBACK)
            for arg in self.container.get("args", [])
        ]
        # The image's command is the operator's console script; here the virtualenv's.
        command, *command_args = self.container["command"]
        binary = shutil.which(command, path=str(Path(sys.executable).parent))
        assert binary, f"{command} is not installed beside {sys.executable}"
        account = self.spec["serviceAccountName"]
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "KUBECONFIG": str(
                service_account_kubeconfig(
                    self.cp, self.namespace, account, self.workdir / "kubeconfig"
                )
            ),
            **self._env(),
        }
        if "/tmp" in mounts:
            env["TMPDIR"] = str(mounts["/tmp"])
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, *command_args, *args],
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def port(self, name: str) -> int:
        return _port(self.container, name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until(self, check: Any, what: str, timeout: float = 60.0) -> Any:
        def checked() -> Any:
            assert self.alive(), f"the operator exited:\n{self.log()}"
            return check()

        return wait_for(checked, what, timeout=timeout)

    def probe(self, kind: str) -> bool:
        """The container's liveness or readiness probe, against the local process."""
        probe = self.container[kind]
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = _port(self.container, get["port"])
            try:
                return httpx.get(f"http://{LOOPBACK}:{port}{get['path']}", timeout=5).is_success
            except httpx.HTTPError:
                return False
        port = _port(self.container, probe["tcpSocket"]["port"])
        try:
            socket.create_connection((LOOPBACK, port), timeout=5).close()
        except OSError:
            return False
        return True

    def stop(self) -> int:
        assert self.process is not None
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the operator did not stop on SIGTERM:\n{self.log()}") from None

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.alive():
            code = self.stop()
            assert exc_type is not None or code == 0, f"operator exit {code}:\n{self.log()}"


class TestPodRunner:
    """Completes the `helm test` pods of a namespace while helm waits for them."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, cp: ControlPlane, namespace: str) -> None:
        self.cp = cp
        self.namespace = namespace
        self.results: dict[str, subprocess.CompletedProcess[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._error: BaseException | None = None

    def _resolve(self, url: str) -> str:
        """http://<service>.<namespace>.svc:<port> -> the local port of the pod it selects."""

        def to_pod(match: re.Match[str]) -> str:
            service_name, namespace, port = match.group(1), match.group(2), int(match.group(3))
            base = f"/api/v1/namespaces/{namespace}"
            service = ok(self.cp.api.get(f"{base}/services/{service_name}"), "Service")
            (target,) = [
                p.get("targetPort", port) for p in service["spec"]["ports"] if p["port"] == port
            ]
            selector = service["spec"]["selector"].items()
            deployments = ok(
                self.cp.api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments"),
                "Deployments",
            )["items"]
            (pod,) = [
                d["spec"]["template"]
                for d in deployments
                if selector <= d["spec"]["template"]["metadata"]["labels"].items()
            ]
            (container,) = pod["spec"]["containers"]
            return f"http://{LOOPBACK}:{_port(container, target)}"

        return SERVICE_URL.sub(to_pod, url)

    def _run(self, pod: dict[str, Any]) -> None:
        (container,) = pod["spec"]["containers"]
        env = {"PATH": "/usr/bin:/bin"}
        for var in container.get("env", []):
            env[var["name"]] = self._resolve(var["value"])
        result = subprocess.run(
            [*container.get("command", []), *container.get("args", [])],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        name = pod["metadata"]["name"]
        self.results[name] = result
        phase = "Succeeded" if result.returncode == 0 else "Failed"
        ok(
            self.cp.api.patch(
                f"/api/v1/namespaces/{self.namespace}/pods/{name}/status",
                headers={"Content-Type": "application/merge-patch+json"},
                json={"status": {"phase": phase}},
            ),
            f"status of pod {name}",
        )

    def _loop(self) -> None:
        try:
            done: set[str] = set()
            while not self._stop.wait(0.2):
                pods = ok(self.cp.api.get(f"/api/v1/namespaces/{self.namespace}/pods"), "pods")
                for pod in pods["items"]:
                    hook = (pod["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
                    uid = pod["metadata"]["uid"]
                    if "test" in hook.split(",") and uid not in done:
                        done.add(uid)
                        self._run(pod)
        except BaseException as exc:  # reported by __exit__, in the test's thread
            self._error = exc

    def __enter__(self) -> TestPodRunner:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._error is not None and exc_type is None:
            raise self._error
