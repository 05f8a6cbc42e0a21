"""End to end: the operator (KopfRunner, real API server) configures an engine that runs exactly
as its Deployment says - Envoy and the sidecar as local processes with the Deployment's
arguments and the bootstrap Secret's certificates - connected to the operator over mTLS.

Mocked, because nothing here can run pods: the kubelet. The test does its part: it lays the
Secret out as a volume (SecretVolume, the kubelet's `..data` layout), points the container
paths at it and at a socket directory, and starts the containers' commands.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from gateway.xds_stack import SecretVolume
from harness import (
    GW,
    MG,
    Operator,
    condition,
    create,
    gateway_class,
    get,
    setup_app,
    status_is,
)
from k8s.controlplane import ControlPlane, host_address, wait_for

from airlock_microgateway.demo_upstream import EchoUpstream
from airlock_microgateway.gateway import envoy_binary, free_port
from airlock_operator.settings import BOOTSTRAP_MOUNT, BOOTSTRAP_SECRET, SOCKET_DIR
from airlock_operator.workloads import workload_name

RENEWAL_SECONDS = 15
FOLLOW_SECONDS = 5.0  # the bound for a change to reach a running engine
SQL_INJECTION = "/?id=" + quote("1' OR '1'='1' --")
STRICT_ONLY = "/?note=" + quote("I ran `ls -la` today")  # UNIXCMD at Strict, not Standard


class PodProcesses:
    """The two containers of a gateway pod as local processes."""

    def __init__(self, deployment: dict[str, Any], secret: dict[str, Any], tmp: Path) -> None:
        self.tmp = tmp
        self.volume = SecretVolume(tmp / "bootstrap")
        self.volume.publish({k: base64.b64decode(v) for k, v in secret["data"].items()})
        self.sockets = tmp / "sockets"
        self.sockets.mkdir()
        self.admin_port = free_port()
        self.ready_port = free_port()
        containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
        self.engine_probe = containers["engine"]["readinessProbe"]
        self.engine_args = self._engine(containers["engine"])
        self.sidecar_args = self._sidecar(containers["sidecar"])
        self.processes: list[subprocess.Popen[bytes]] = []

    def _paths(self, text: str) -> str:
        return text.replace(BOOTSTRAP_MOUNT, str(self.volume.path)).replace(
            SOCKET_DIR, str(self.sockets)
        )

    def _engine(self, container: dict[str, Any]) -> list[str]:
        args = [*container.get("command", []), *container.get("args", [])]
        index = args.index("--config-yaml") + 1
        bootstrap = json.loads(self._paths(args[index]))
        # Two engines on one machine: the admin and readiness ports must be free (in a pod they
        # are the pod's).
        bootstrap["admin"]["address"]["socket_address"]["port_value"] = self.admin_port
        [ready] = [p for p in container["ports"] if p.get("name") == "ready"]
        for listener in bootstrap["static_resources"]["listeners"]:
            address = listener["address"]["socket_address"]
            if address["port_value"] == ready["containerPort"]:
                address["port_value"] = self.ready_port
        args[index] = json.dumps(bootstrap)
        assert args[0] == "envoy" or args[0].endswith("/envoy"), args
        assert "--disable-hot-restart" in args
        return [envoy_binary(), *args[1:]]

    def _sidecar(self, container: dict[str, Any]) -> list[str]:
        args = [self._paths(a) for a in [*container.get("command", []), *container.get("args", [])]]
        assert args[0] == "airlock-microgateway", args
        if "--metrics" in args:
            args[args.index("--metrics") + 1] = f"127.0.0.1:{free_port()}"
        return [sys.executable, "-m", "airlock_microgateway", *args[1:]]

    def start(self) -> None:
        for name, args in (("sidecar", self.sidecar_args), ("envoy", self.engine_args)):
            log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
            self.processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))

    def ready(self) -> int | None:
        """The engine container's readiness probe, as kubelet runs it: the HTTP status."""
        probe = self.engine_probe["httpGet"]
        assert probe["port"] == "ready"
        try:
            url = f"http://127.0.0.1:{self.ready_port}{probe['path']}"
            return httpx.get(url, timeout=self.engine_probe["timeoutSeconds"]).status_code
        except httpx.HTTPError:
            return None

    def stop_sidecar(self) -> None:
        sidecar = self.processes[0]
        sidecar.terminate()
        sidecar.wait(30)

    def client_cert_serials(self) -> set[int]:
        """Serial numbers of the certificates Envoy holds (admin /certs)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/certs", timeout=5) as r:
            certificates = json.loads(r.read())["certificates"]
        return {int(c["serial_number"], 16) for e in certificates for c in e["cert_chain"]}

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def upstream() -> Iterator[EchoUpstream]:
    echo = EchoUpstream(host_address()).start()
    yield echo
    echo.stop()


def set_deny_level(cp: ControlPlane, ns: str, level: str) -> None:
    response = cp.api.patch(
        f"{MG}/namespaces/{ns}/denyrules/strict",
        json={"spec": {"request": {"builtIn": {"settings": {"level": level}}}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def status_of(client: httpx.Client, path: str) -> int | None:
    try:
        return client.get(path).status_code
    except httpx.HTTPError:
        return None


def follows(client: httpx.Client, path: str, expected: int, pod: PodProcesses) -> float:
    """Seconds until `path` answers `expected`; fails after FOLLOW_SECONDS."""
    start = time.monotonic()
    while time.monotonic() - start < FOLLOW_SECONDS:
        assert pod.alive(), pod.logs()
        if status_of(client, path) == expected:
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{path} did not answer {expected} within {FOLLOW_SECONDS} s")


@pytest.fixture(scope="module")
def operator_settings() -> dict[str, Any]:
    # Short, so that the renewal test sees certificates renewed while traffic flows.
    return {"certificates": {"renewalPeriod": f"{RENEWAL_SECONDS}s"}}


@dataclass
class Running:
    cp: ControlPlane
    ns: str
    pod: PodProcesses
    client: httpx.Client
    upstream: EchoUpstream


@pytest.fixture
def running(
    control_plane: ControlPlane,
    operator: Operator,
    namespace: str,
    upstream: EchoUpstream,
    tmp_path: Path,
) -> Iterator[Running]:
    """A Gateway protecting the echo upstream, its engine running and serving."""
    cp, ns = control_plane, namespace
    class_name = f"airlock-{ns}"
    create(cp, f"{GW}/gatewayclasses", gateway_class(class_name))
    listener_port = free_port()
    setup_app(cp, ns, class_name, listener_port, (host_address(), upstream.port))

    name = workload_name("gw")
    deployment = wait_for(
        lambda: get(cp, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"), "Deployment"
    )
    secret = wait_for(
        lambda: get(cp, f"/api/v1/namespaces/{ns}/secrets/{BOOTSTRAP_SECRET}"), "Secret"
    )
    pod = PodProcesses(deployment, secret, tmp_path)
    pod.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{listener_port}", timeout=10)
    try:
        wait_for(
            lambda: (
                pod.alive()
                and status_is(
                    cp,
                    f"{GW}/namespaces/{ns}/gateways/gw",
                    lambda s: condition(s.get("conditions"), "Programmed"),
                    ("True", "Programmed"),
                )
            ),
            "Gateway Programmed (the engine took its configuration)",
            timeout=120,
        )
        # The sidecar compiles its policies after they arrive; until then the pod is not ready
        # (no worker passes Envoy's health check) and requests fail closed.
        wait_for(lambda: pod.ready() == 200, "the pod's readiness probe", timeout=120)
        wait_for(lambda: status_of(client, "/hello?x=1") == 200, "benign request passes")
        yield Running(cp, ns, pod, client, upstream)
    finally:
        client.close()
        pod.stop()


def test_engine_follows_the_operator(running: Running) -> None:
    cp, ns, pod, client, upstream = (
        running.cp,
        running.ns,
        running.pod,
        running.client,
        running.upstream,
    )
    assert any(seen.target == "/hello?x=1" for seen in upstream.seen)
    before = len(upstream.seen)
    assert client.get(SQL_INJECTION).status_code == 400
    assert client.get(STRICT_ONLY).status_code == 400  # the policy's DenyRules are Strict
    assert len(upstream.seen) == before  # neither reached the application

    set_deny_level(cp, ns, "Standard")
    follows(client, STRICT_ONLY, 200, pod)
    assert client.get(SQL_INJECTION).status_code == 400

    assert cp.api.delete(f"{GW}/namespaces/{ns}/httproutes/web").status_code == 200
    follows(client, "/hello?x=1", 404, pod)


def test_without_its_sidecar_the_pod_is_not_ready_and_fails_closed(running: Running) -> None:
    pod, client, upstream = running.pod, running.client, running.upstream
    assert pod.ready() == 200
    pod.stop_sidecar()
    wait_for(lambda: pod.ready() == 503, "the readiness probe fails", timeout=10)
    before = len(upstream.seen)
    statuses = {status_of(client, f"/hello?down={i}") for i in range(5)}
    assert statuses and all(s is not None and 500 <= s < 600 for s in statuses), statuses
    assert len(upstream.seen) == before


def test_certificates_are_renewed_while_traffic_flows(running: Running) -> None:
    cp, ns, pod, client = running.cp, running.ns, running.pod, running.client
    secret_path = f"/api/v1/namespaces/{ns}/secrets/{BOOTSTRAP_SECRET}"
    secret = get(cp, secret_path)
    assert secret is not None
    version = secret["metadata"]["resourceVersion"]
    serials = [pod.client_cert_serials()]
    renewals, answers = 0, []
    deadline = time.monotonic() + 6 * RENEWAL_SECONDS
    while renewals < 2 and time.monotonic() < deadline:
        assert pod.alive(), pod.logs()
        answers.append(status_of(client, f"/hello?n={len(answers)}"))
        current = get(cp, secret_path)
        if current is not None and current["metadata"]["resourceVersion"] != version:
            # What the kubelet does when a mounted Secret changes.
            version = current["metadata"]["resourceVersion"]
            pod.volume.publish({k: base64.b64decode(v) for k, v in current["data"].items()})
            renewals += 1
            wait_for(
                lambda: pod.client_cert_serials() != serials[-1],
                "Envoy loads the renewed certificate",
                timeout=10,
            )
            serials.append(pod.client_cert_serials())
        time.sleep(0.05)
    assert renewals == 2, f"{renewals} renewals in {6 * RENEWAL_SECONDS} s"
    assert len(serials) == 3 and len({frozenset(s) for s in serials}) == 3
    assert answers and set(answers) == {200}, [a for a in answers if a != 200]
    # Still connected to the operator: a change arrives.
    set_deny_level(cp, ns, "Standard")
    follows(client, STRICT_ONLY, 200, pod)
