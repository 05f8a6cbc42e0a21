"""Scale of the operator: how long N HTTPRoutes with policies take to be Accepted and to reach a
connected engine, for N = 10, 100, 1000, and the operator's memory meanwhile.

Set-up, all on this machine: the control plane of tests/k8s (etcd + kube-apiserver, no
controller manager: nothing here needs garbage collection), the Gateway API standard CRDs and
ours, and the operator as its own process, exactly as deployed (`kopf run --all-namespaces
--standalone -m airlock_operator.handlers`, settings file with the xDS server on 127.0.0.1).
One GatewayClass, one Gateway (one HTTP listener, routes from all namespaces) in its own
namespace, and one real Envoy engine for it, started from `build_engine_bootstrap` with the
certificates of the bootstrap Secret the operator issued, laid out as kubelet mounts a Secret
(node id `<namespace>/gw`; its sidecar cluster stays unhealthy: nothing sends traffic).

Per N, in a fresh namespace: four backend Services with an EndpointSlice each and one
DenyRules (set-up, not timed); then, timed from the first request, N HTTPRoutes (route-i:
hostname app-(i mod 10).bench.example, path prefix /r<i>, backend i mod 4) and N
ContentSecurityPolicies (policy-i targets route-i, all sharing the DenyRules), created by four
client threads, route-i before policy-i. Measured:
- accepted: until every route's status says Accepted=True for the Gateway (a watch on the
  namespace's HTTPRoutes, so the moments are exact and the API server is not polled);
- policies: until every policy's ancestor status says Accepted=True;
- delivered: until the engine holds all N routes, each carrying its own policy (Envoy's admin
  /config_dump of the route configurations, polled every 0.25 s from the first request on);
- settled: until the operator's process is idle again (under 5 % of a core over 2 s), with
  the CPU time it spent from the first request to then;
- removal: the routes and policies deleted at once, until the engine holds none of them.
Memory: VmRSS of the operator's process, sampled every 0.25 s through the whole run; per N the
value before the first request, the peak until settled, once settled, and after the removal.

The machine is shared and noisy, so nothing is compared across runs: the ratios are between the
sizes of one run. Linearity rule: the operator's cost per route (its CPU seconds until settled
/ N) of each size is at most LINEARITY_LIMIT (1.5) times that of the next smaller size, i.e. 10x
the routes cost at most 15x. The wall time to delivered per route is reported beside it but not
judged: at N=1000 it is mostly this script creating the objects (about 10 s on the same two
cores), and at small N fixed costs (the operator's 0.2 s debounce, the polling) dominate it.
Target: 1000 routes delivered within 60 s, and the linearity rule.

Exit status: 0, unless --check is given and a target is missed (1); 2 if the set-up fails.

Usage:
    python bench/operator_scale.py          # writes bench/results/operator_scale.{md,json,png}
    python bench/operator_scale.py --check
    python bench/operator_scale.py --sizes 1000,1000,1000   # does memory come back?
    python bench/operator_scale.py --sizes 5 --out /tmp/operator-scale
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its siblings, also when loaded by path

import bench_host
from bench_host import (
    REPO_ROOT,
    cpu_seconds,
    run_command,
    stop_process,
    vm_rss_bytes,
    write_results,
)

DEFAULT_OUT = REPO_ROOT / "bench" / "results"
# The control plane and the kubelet-like Secret volume of the tests.
sys.path.insert(0, str(REPO_ROOT / "tests"))

GW = "/apis/gateway.networking.k8s.io/v1"
MG = "/apis/microgateway.airlock.com/v1alpha1"
GATEWAY_NAMESPACE = "bench-gateway"
GATEWAY_CLASS = "airlock-bench"
SIZES = (10, 100, 1000)
BACKENDS = 4
HOSTNAMES = 10
CLIENT_THREADS = 4
TARGET_ROUTES = 1000
TARGET_SECONDS = 60.0
LINEARITY_LIMIT = 1.5
SAMPLE_SECONDS = 0.25
ENGINE_POLL_SECONDS = 0.25
QUIET_WINDOW = 2.0  # seconds
QUIET_CPU = 0.05  # share of one core below which the operator counts as idle


def budget_seconds(routes: int) -> float:
    """How long to wait for a size before giving up on it (it is then reported as missed)."""
    return 120.0 + 0.5 * routes


# --- the objects ------------------------------------------------------------------------------


def gateway_objects(port: int) -> list[tuple[str, dict[str, Any]]]:
    from airlock_operator.settings import CONTROLLER_NAME

    return [
        (
            f"{GW}/gatewayclasses",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GatewayClass",
                "metadata": {"name": GATEWAY_CLASS},
                "spec": {"controllerName": CONTROLLER_NAME},
            },
        ),
        (
            f"{GW}/namespaces/{GATEWAY_NAMESPACE}/gateways",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "gw"},
                "spec": {
                    "gatewayClassName": GATEWAY_CLASS,
                    "listeners": [
                        {
                            "name": "http",
                            "port": port,
                            "protocol": "HTTP",
                            "allowedRoutes": {"namespaces": {"from": "All"}},
                        }
                    ],
                },
            },
        ),
    ]


def backend_objects(ns: str, address: str) -> list[tuple[str, dict[str, Any]]]:
    """The untimed part of a size: Services with their EndpointSlices, one DenyRules."""
    objects: list[tuple[str, dict[str, Any]]] = []
    for b in range(BACKENDS):
        objects.append(
            (
                f"/api/v1/namespaces/{ns}/services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"backend-{b}"},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8000}]},
                },
            )
        )
        objects.append(
            (
                f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": f"backend-{b}-1",
                        "labels": {"kubernetes.io/service-name": f"backend-{b}"},
                    },
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8000 + b}],
                    "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
                },
            )
        )
    objects.append(
        (
            f"{MG}/namespaces/{ns}/denyrules",
            {
                "apiVersion": "microgateway.airlock.com/v1alpha1",
                "kind": "DenyRules",
                "metadata": {"name": "rules"},
                "spec": {"request": {"builtIn": {"settings": {"level": "Strict"}}}},
            },
        )
    )
    return objects


def route_objects(ns: str, i: int) -> list[tuple[str, dict[str, Any]]]:
    """route-i and the policy-i that targets it."""
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": f"route-{i}"},
        "spec": {
            "parentRefs": [{"name": "gw", "namespace": GATEWAY_NAMESPACE}],
            "hostnames": [f"app-{i % HOSTNAMES}.bench.example"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": f"/r{i}"}}],
                    "backendRefs": [{"name": f"backend-{i % BACKENDS}", "port": 80}],
                }
            ],
        },
    }
    policy = {
        "apiVersion": "microgateway.airlock.com/v1alpha1",
        "kind": "ContentSecurityPolicy",
        "metadata": {"name": f"policy-{i}"},
        "spec": {
            "targetRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": f"route-{i}"}
            ],
            "secured": {"filter": {"denyRulesRef": {"name": "rules"}}},
        },
    }
    return [
        (f"{GW}/namespaces/{ns}/httproutes", route),
        (f"{MG}/namespaces/{ns}/contentsecuritypolicies", policy),
    ]


# --- reading statuses and the engine ------------------------------------------------------------


def _accepted(conditions: list[dict[str, Any]] | None) -> bool:
    return any(c.get("type") == "Accepted" and c.get("status") == "True" for c in conditions or [])


def route_accepted(route: dict[str, Any]) -> bool:
    """Whether the route's parent status for our Gateway says Accepted=True."""
    from airlock_operator.settings import CONTROLLER_NAME

    return any(
        parent.get("controllerName") == CONTROLLER_NAME
        and (parent.get("parentRef") or {}).get("name") == "gw"
        and _accepted(parent.get("conditions"))
        for parent in (route.get("status") or {}).get("parents") or []
    )


def policy_accepted(policy: dict[str, Any]) -> bool:
    ancestors = (policy.get("status") or {}).get("ancestors") or []
    return bool(ancestors) and all(_accepted(a.get("conditions")) for a in ancestors)


def delivered_routes(dump: dict[str, Any], ns: str) -> int:
    """How many routes of namespace `ns` the engine holds with their own policy: route
    `<ns>/route-i/...` whose ext_proc per-route metadata names policy `<ns>.policy-i`."""
    from airlock_microgateway.envoy_config import FILTER_NAMESPACE

    count = 0
    for config in dump.get("configs") or []:
        for host in (config.get("route_config") or {}).get("virtual_hosts") or []:
            for route in host.get("routes") or []:
                parts = str(route.get("name", "")).split("/")
                if len(parts) < 2 or parts[0] != ns or not parts[1].startswith("route-"):
                    continue
                want = f"{ns}.policy-{parts[1].removeprefix('route-')}"
                per_route = (route.get("typed_per_filter_config") or {}).get(FILTER_NAMESPACE)
                metadata = ((per_route or {}).get("overrides") or {}).get("grpc_initial_metadata")
                if any(m.get("value") == want for m in metadata or []):
                    count += 1
    return count


class Tracker:
    """Counts something in a thread of its own from `begin` on: when the count first reached
    each value. `run` (of a subclass) calls `record`, and returns once `stopping` is set."""

    def __init__(self) -> None:
        self.start = 0.0
        self.progress: list[tuple[float, int]] = []  # (seconds since start, count)
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._guarded, daemon=True)

    def begin(self, start: float) -> None:
        self.start = start
        self._thread.start()

    def run(self) -> None:
        raise NotImplementedError

    def _guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # reported by the measuring thread
            self.error = exc

    def record(self, count: int) -> None:
        if count != self.count:
            self.progress.append((time.monotonic() - self.start, count))

    @property
    def count(self) -> int:
        return self.progress[-1][1] if self.progress else 0

    def reached(self, count: int) -> float | None:
        """Seconds from start until the count first reached `count`."""
        return next((t for t, c in self.progress if c >= count), None)

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(30)


class Watch(Tracker):
    """The objects of one collection that satisfy `done`, as the API server's watch reports
    them, so the moments are exact and nothing is polled. Reconnects every second (from the
    last resourceVersion) so that stop() returns soon."""

    def __init__(self, client: Any, path: str, done: Callable[[dict[str, Any]], bool]) -> None:
        super().__init__()
        self.client = client
        self.path = path
        self.done = done
        self.state: dict[str, bool] = {}
        listing = client.get(path)
        listing.raise_for_status()
        self._version = listing.json()["metadata"]["resourceVersion"]

    def run(self) -> None:
        while not self.stopping.is_set():
            params = {"watch": "1", "resourceVersion": self._version, "timeoutSeconds": "1"}
            with self.client.stream("GET", self.path, params=params, timeout=30) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if line:
                        self._event(json.loads(line))

    def _event(self, event: dict[str, Any]) -> None:
        obj = event["object"]
        if event["type"] == "ERROR":
            raise RuntimeError(f"watch of {self.path} failed: {obj.get('message')}")
        self._version = obj["metadata"]["resourceVersion"]
        if event["type"] == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        if event["type"] == "DELETED":
            self.state.pop(name, None)
        else:
            self.state[name] = self.done(obj)
        self.record(sum(self.state.values()))


class EnginePoll(Tracker):
    """The routes of namespace `ns` the engine holds with their policies, polled (while the
    objects are still being created, too)."""

    def __init__(self, engine: EngineProcess, ns: str) -> None:
        super().__init__()
        self.engine = engine
        self.ns = ns

    def run(self) -> None:
        while not self.stopping.is_set():
            self.record(self.engine.delivered(self.ns))
            self.stopping.wait(ENGINE_POLL_SECONDS)


def reconcile_totals(metrics: str) -> tuple[int, float]:
    """Count and sum of the operator's reconcile duration histogram (Prometheus text)."""
    values = {}
    for line in metrics.splitlines():
        name, _, value = line.partition(" ")
        if name in (
            "airlock_operator_reconcile_seconds_count",
            "airlock_operator_reconcile_seconds_sum",
        ):
            values[name.rpartition("_")[2]] = float(value)
    return int(values.get("count", 0)), values.get("sum", 0.0)


class EngineProcess:
    """A real Envoy from the operator's engine bootstrap, certificates from the bootstrap
    Secret laid out as kubelet mounts a Secret."""

    def __init__(self, tmp: Path, xds_port: int, node: str, secret: dict[str, Any]) -> None:
        from gateway.xds_stack import SecretVolume

        from airlock_microgateway.gateway import envoy_binary, free_port
        from airlock_operator.engine_bootstrap import build_engine_bootstrap
        from airlock_operator.settings import Settings

        volume = SecretVolume(tmp / "bootstrap")
        volume.publish({k: base64.b64decode(v) for k, v in secret["data"].items()})
        self.admin_port = free_port()
        bootstrap = build_engine_bootstrap(
            Settings(xds_host="localhost", xds_port=xds_port),
            node,
            [str(tmp / "no-sidecar.sock")],
            str(volume.path),
            self.admin_port,
            ready_port=free_port(),
        )
        self.log = tmp / "envoy.log"
        command = [envoy_binary(), "--config-yaml", json.dumps(bootstrap)]
        command += ["--disable-hot-restart", "--concurrency", "1", "-l", "warning"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def admin(self, path: str) -> Any:
        if self.process.poll() is not None:
            raise RuntimeError(f"envoy exited: {self.log.read_text()[-2000:]}")
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        with urllib.request.urlopen(url, timeout=10) as reply:
            body = reply.read()
        return json.loads(body) if path.startswith(("/config_dump", "/stats?")) else body

    def ready(self) -> bool:
        try:
            self.admin("/ready")
            return True
        except OSError:  # not listening yet, or not ready (503)
            return False

    def delivered(self, ns: str) -> int:
        dump = self.admin("/config_dump?resource=dynamic_route_configs")
        return delivered_routes(dump, ns)

    def route_updates(self) -> int:
        """RDS updates the engine took so far."""
        stats = self.admin("/stats?format=json&filter=rds%5C..*update_success")["stats"]
        return sum(int(s.get("value", 0)) for s in stats)

    def stop(self) -> None:
        stop_process(self.process)


# --- the operator process ---------------------------------------------------------------------


class Sampler:
    """VmRSS and CPU time of one process every SAMPLE_SECONDS, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = time.monotonic()
        self.samples: list[tuple[float, int, float]] = []  # (t, rss bytes, cpu seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic() - self.start
            self.samples.append((t, vm_rss_bytes(self.pid), cpu_seconds(self.pid)))
            self._stop.wait(SAMPLE_SECONDS)

    def now(self) -> float:
        return time.monotonic() - self.start

    def peak(self, since: float, until: float) -> int:
        return max((rss for t, rss, _ in self.samples if since <= t <= until), default=0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def wait_quiet(pid: int, budget: float) -> float:
    """Until the process used under QUIET_CPU of a core over QUIET_WINDOW seconds; returns when
    that window began (monotonic), or raises after `budget` seconds."""
    deadline = time.monotonic() + budget
    history: list[tuple[float, float]] = []
    while time.monotonic() < deadline:
        now = time.monotonic()
        history.append((now, cpu_seconds(pid)))
        old = [h for h in history if now - h[0] >= QUIET_WINDOW]
        if old:
            since, cpu = old[-1]
            if history[-1][1] - cpu < QUIET_CPU * (now - since):
                return since
        time.sleep(0.25)
    raise RuntimeError(f"the operator did not become idle within {budget:.0f} s")


def wait_until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what}")


class Lab:
    """Control plane, operator, Gateway and engine; stop() stops whatever was started."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cp: Any = None
        self.operator: subprocess.Popen[bytes] | None = None
        self.engine: EngineProcess | None = None
        self.sampler: Sampler | None = None
        self.metrics_port = 0

    def start(self) -> None:
        from k8s.controlplane import ControlPlane, gateway_api_crds

        from airlock_microgateway.gateway import free_port
        from airlock_operator import crds
        from airlock_operator.settings import BOOTSTRAP_SECRET, Settings, node_id

        self.cp = ControlPlane(with_controller_manager=False).start()
        crds.write(self.tmp / "crds")
        self.cp.install_crds([*gateway_api_crds(), self.tmp / "crds"])
        for ns in (Settings().namespace, GATEWAY_NAMESPACE):
            self.post("/api/v1/namespaces", {"metadata": {"name": ns}})
        xds_port, self.metrics_port = free_port(), free_port()
        settings = self.tmp / "settings.yaml"
        settings.write_text(
            yaml.safe_dump(
                {
                    "xds": {"host": "localhost", "port": xds_port, "listen": "127.0.0.1"},
                    "metrics": {"port": self.metrics_port, "listen": "127.0.0.1"},
                }
            )
        )
        env = {**os.environ, "KUBECONFIG": str(self.cp.kubeconfig)}
        # As its Deployment runs it (kopf run --all-namespaces --standalone underneath).
        command = [sys.executable, "-m", "airlock_operator", "--settings", str(settings)]
        command += ["--standalone", "--liveness", ""]
        with open(self.tmp / "operator.log", "ab") as log:
            self.operator = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp
            )
        self.sampler = Sampler(self.operator.pid)
        for path, body in gateway_objects(free_port()):
            self.post(path, body)
        secret_path = f"/api/v1/namespaces/{GATEWAY_NAMESPACE}/secrets/{BOOTSTRAP_SECRET}"
        secret = wait_until(lambda: self.get(secret_path), 120, "the bootstrap Secret")
        self.engine = EngineProcess(self.tmp, xds_port, node_id(GATEWAY_NAMESPACE, "gw"), secret)
        wait_until(self.engine.ready, 60, "the engine's first configuration")

    def reconcile_metrics(self) -> tuple[int, float]:
        """(reconcile passes, seconds spent in them) so far, from the operator's metrics."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text = reply.read().decode()
        return reconcile_totals(text)

    def alive(self) -> None:
        if self.operator is not None and self.operator.poll() is not None:
            log = (self.tmp / "operator.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the operator exited ({self.operator.returncode}):\n{log}")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.cp.api.post(path, json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text}")
        return dict(response.json())

    def get(self, path: str) -> dict[str, Any] | None:
        response = self.cp.api.get(path)
        return dict(response.json()) if response.status_code == 200 else None

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        if self.operator is not None:
            stop_process(self.operator)
        if self.sampler is not None:
            self.sampler.stop()
        if self.cp is not None:
            self.cp.stop()


# --- one size -----------------------------------------------------------------------------------


def measure(lab: Lab, routes: int, ns: str, address: str) -> dict[str, Any]:
    assert lab.engine is not None and lab.sampler is not None and lab.operator is not None
    cp, engine, sampler, pid = lab.cp, lab.engine, lab.sampler, lab.operator.pid
    lab.post("/api/v1/namespaces", {"metadata": {"name": ns}})
    for path, body in backend_objects(ns, address):
        lab.post(path, body)
    wait_quiet(pid, 120)
    updates_before = engine.route_updates()
    passes_before, reconcile_before = lab.reconcile_metrics()
    result: dict[str, Any] = {"routes": routes, "rss_before": vm_rss_bytes(pid)}
    # Each watch on a client of its own: the creating threads share cp.api.
    route_watch = Watch(cp.client(), f"{GW}/namespaces/{ns}/httproutes", route_accepted)
    policy_watch = Watch(
        cp.client(), f"{MG}/namespaces/{ns}/contentsecuritypolicies", policy_accepted
    )

    engine_poll = EnginePoll(engine, ns)
    trackers: list[Tracker] = [route_watch, policy_watch, engine_poll]

    start = time.monotonic()
    sample_start = sampler.now()
    cpu_start = cpu_seconds(pid)
    for tracker in trackers:
        tracker.begin(start)
    budget = budget_seconds(routes)
    try:
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            applied = pool.map(
                lambda i: [lab.post(path, body) for path, body in route_objects(ns, i)],
                range(routes),
            )
            for _ in applied:  # re-raises a failed create
                pass
        result["apply_seconds"] = time.monotonic() - start
        while any(t.count < routes for t in trackers):
            lab.alive()
            for tracker in trackers:
                if tracker.error is not None:
                    raise RuntimeError(f"{type(tracker).__name__} failed: {tracker.error}")
            if time.monotonic() - start > budget:
                break  # reported as missed
            time.sleep(0.1)
        quiet = wait_quiet(pid, budget)
    finally:
        for tracker in trackers:
            tracker.stop()
    result["accepted_seconds"] = route_watch.reached(routes)
    result["policies_accepted_seconds"] = policy_watch.reached(routes)
    result["delivered_seconds"] = engine_poll.reached(routes)
    done = result["delivered_seconds"]
    result["seconds_per_route"] = done / routes if done is not None else None
    result["settled_seconds"] = quiet - start
    result["operator_cpu_seconds"] = cpu_seconds(pid) - cpu_start
    result["rss_peak"] = sampler.peak(sample_start, sampler.now())
    result["rss_settled"] = vm_rss_bytes(pid)
    result["engine_route_updates"] = engine.route_updates() - updates_before
    passes, reconcile_seconds = lab.reconcile_metrics()
    result["reconcile_passes"] = passes - passes_before
    result["reconcile_seconds"] = reconcile_seconds - reconcile_before
    result["progress"] = {
        "accepted": route_watch.progress,
        "policies_accepted": policy_watch.progress,
        "delivered": engine_poll.progress,
    }
    result["window"] = [sample_start, sampler.now()]

    # Removal: everything of the size at once; the engine must let go of all its routes.
    removal = time.monotonic()
    for path in (
        f"{GW}/namespaces/{ns}/httproutes",
        f"{MG}/namespaces/{ns}/contentsecuritypolicies",
    ):
        cp.api.delete(path, timeout=120).raise_for_status()
    wait_until(lambda: engine.delivered(ns) == 0, budget, f"the removal of {routes} routes")
    result["removed_seconds"] = time.monotonic() - removal
    for kind in ("services", "endpointslices", "denyrules"):
        group = {"services": "/api/v1", "endpointslices": "/apis/discovery.k8s.io/v1"}.get(kind, MG)
        cp.api.delete(f"{group}/namespaces/{ns}/{kind}", timeout=120).raise_for_status()
    cp.delete_namespace(ns)  # without a controller manager it stays Terminating, empty
    wait_quiet(pid, budget)
    result["rss_after_removal"] = vm_rss_bytes(pid)
    return result


# --- judging and reporting ----------------------------------------------------------------------


def judge(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The linearity rule between consecutive sizes and the target for TARGET_ROUTES."""
    linearity = []
    first: dict[int, dict[str, Any]] = {}
    for run in runs:  # a size run again (to see memory come back) is not judged again
        first.setdefault(run["routes"], run)
    ordered = [first[n] for n in sorted(first)]
    for small, big in itertools.pairwise(ordered):
        a, b = small["seconds_per_route"], big["seconds_per_route"]
        ratio = b / a if a and b is not None else None
        cpu_ratio = (
            (big["operator_cpu_seconds"] / big["routes"])
            / (small["operator_cpu_seconds"] / small["routes"])
            if small["operator_cpu_seconds"]
            else None
        )
        linearity.append(
            {
                "from": small["routes"],
                "to": big["routes"],
                "ratio": ratio,
                "cpu_ratio": cpu_ratio,
                "limit": LINEARITY_LIMIT,
                # Never delivered is a miss whatever the cost.
                "met": ratio is not None and cpu_ratio is not None and cpu_ratio <= LINEARITY_LIMIT,
            }
        )
    target = None
    if TARGET_ROUTES in first:
        seconds = first[TARGET_ROUTES]["delivered_seconds"]
        target = {
            "routes": TARGET_ROUTES,
            "seconds": seconds,
            "limit": TARGET_SECONDS,
            "met": seconds is not None and seconds <= TARGET_SECONDS,
        }
    return {"linearity": linearity, "target": target}


def missed(judged: dict[str, Any]) -> list[dict[str, Any]]:
    found = [row for row in judged["linearity"] if not row["met"]]
    if judged["target"] is not None and not judged["target"]["met"]:
        found.append(judged["target"])
    return found


def machine_info() -> dict[str, Any]:
    import kopf

    return {
        **bench_host.machine_info(),
        "kopf": kopf.__version__ if hasattr(kopf, "__version__") else "unknown",
    }


def _mib(size: float) -> str:
    return f"{size / 2**20:,.1f}"


def _s(value: float | None, digits: int = 1) -> str:
    return "missed" if value is None else f"{value:.{digits}f}"


def render_markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        "# Operator scale: N HTTPRoutes with policies, to Accepted and to a connected engine",
        "",
        f"Measured {meta['date']} at commit {meta['commit']}"
        + (f" (uncommitted: {', '.join(meta['uncommitted'])})" if meta["uncommitted"] else "")
        + f" on {meta['cpus']} cores ({meta['cpu']}, {meta['platform']}, Python "
        f"{meta['python']}, kopf {meta['kopf']}, Envoy {meta['envoy']}); load average before: "
        + ", ".join(f"{x:.2f}" for x in meta["load_before"])
        + ".",
        "",
        f"Command: `{result['command']}`",
        "",
        "Seconds from the first create request; N routes and N policies created by "
        f"{CLIENT_THREADS} client threads. Reconcile passes and the seconds spent in them "
        "(compute, deliver, write statuses) from the operator's metrics, first request to "
        "settled. RSS: VmRSS of the operator's process (MiB).",
        "",
        "| N | applied s | routes Accepted s | policies Accepted s | delivered s | "
        "ms/route | settled s | operator CPU s | reconcile passes | reconcile s | "
        "engine RDS updates | removed s | RSS before | RSS peak | RSS settled | "
        "RSS after removal |",
        "|---:" * 16 + "|",
    ]
    for run in result["runs"]:
        per_route = run["seconds_per_route"]
        lines.append(
            f"| {run['routes']} | {_s(run['apply_seconds'])} | {_s(run['accepted_seconds'])} "
            f"| {_s(run['policies_accepted_seconds'])} | {_s(run['delivered_seconds'])} "
            f"| {_s(per_route * 1000 if per_route is not None else None)} "
            f"| {_s(run['settled_seconds'])} | {_s(run['operator_cpu_seconds'])} "
            f"| {run['reconcile_passes']} | {_s(run['reconcile_seconds'])} "
            f"| {run['engine_route_updates']} | {_s(run['removed_seconds'])} "
            f"| {_mib(run['rss_before'])} | {_mib(run['rss_peak'])} | {_mib(run['rss_settled'])} "
            f"| {_mib(run['rss_after_removal'])} |"
        )
    lines += ["", "## Targets", ""]
    for row in result["linearity"]:
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        cpu = "n/a" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.2f}"
        lines.append(
            f"- per-route operator CPU, N={row['to']} / N={row['from']}: {cpu} "
            f"(limit {row['limit']}): {'met' if row['met'] else 'MISSED'}; per-route time to "
            f"delivered, same sizes: {ratio}"
        )
    target = result["target"]
    if target is not None:
        lines.append(
            f"- {target['routes']} routes delivered in {_s(target['seconds'])} s "
            f"(limit {target['limit']:.0f} s): {'met' if target['met'] else 'MISSED'}"
        )
    lines += [
        "",
        "Linearity rule: the operator's CPU seconds per route of a size are at most "
        f"{LINEARITY_LIMIT} times those of the next smaller size. Delivered: Envoy's "
        "/config_dump holds all N routes, each with its own policy in its ext_proc per-route "
        "configuration. Settled: the operator's process under "
        f"{QUIET_CPU:.0%} of a core over {QUIET_WINDOW:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def render_plot(result: dict[str, Any], path: Path) -> bool:
    """Times against N (log-log, with a linear reference), the progress of the largest N, and
    the operator's memory through the run; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("warning: matplotlib missing, no plot", file=sys.stderr)
        return False
    runs = result["runs"]
    figure, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    sizes = [r["routes"] for r in runs]
    for key, label in (
        ("accepted_seconds", "routes Accepted"),
        ("delivered_seconds", "delivered to the engine"),
        ("settled_seconds", "operator settled"),
    ):
        points = [(r["routes"], r[key]) for r in runs if r[key] is not None]
        axes[0].plot(*zip(*points, strict=True), marker="o", label=label)
    biggest = max(runs, key=lambda r: r["routes"])
    if biggest["delivered_seconds"]:
        # What linear growth from the largest size down would look like.
        scale = biggest["delivered_seconds"] / biggest["routes"]
        axes[0].plot(sizes, [n * scale for n in sizes], "k:", label="linear")
    axes[0].axhline(TARGET_SECONDS, color="red", linestyle="--", label="target (N=1000)")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("routes (N)")
    axes[0].set_ylabel("seconds from the first request")
    axes[0].set_title("time to Accepted / delivered")
    axes[0].legend()

    progress = biggest["progress"]
    for key, label in (
        ("accepted", "routes Accepted"),
        ("policies_accepted", "policies Accepted"),
        ("delivered", "routes in the engine"),
    ):
        points = [(0.0, 0), *progress[key]]
        axes[1].step(*zip(*points, strict=True), where="post", label=label)
    axes[1].axvline(biggest["apply_seconds"], color="grey", linestyle=":", label="all created")
    axes[1].set_xlabel("s")
    axes[1].set_ylabel("count")
    axes[1].set_title(f"progress, N={biggest['routes']}")
    axes[1].legend()

    memory = result["memory"]
    axes[2].plot([t for t, _ in memory], [rss / 2**20 for _, rss in memory])
    for run in runs:
        start, end = run["window"]
        axes[2].axvspan(start, end, alpha=0.15)
        axes[2].annotate(
            f"N={run['routes']}", (start, 0), xytext=(2, 4), textcoords="offset points"
        )
    axes[2].set_xlabel("s since the operator started")
    axes[2].set_ylabel("VmRSS, MiB")
    axes[2].set_ylim(bottom=0)
    axes[2].set_title("operator memory (shaded: apply to settled)")
    figure.suptitle(f"operator scale, {result['meta']['date']}, {result['meta']['cpus']} cores")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Operator scale: N routes to Accepted/engine.")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=list(SIZES),
        help="comma-separated route counts, default " + ",".join(map(str, SIZES)),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the results go")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.sizes):
        parser.error("--sizes must be positive")
    return args


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    meta = machine_info()  # before the run: the commit and the tree that were measured
    tmp = Path(tempfile.mkdtemp(prefix="operator-scale-"))
    lab = Lab(tmp)
    try:
        lab.start()
        from k8s.controlplane import host_address

        address = host_address()
        runs = []
        for index, routes in enumerate(args.sizes):
            print(f"operator_scale: N={routes} ...", file=sys.stderr, flush=True)
            runs.append(measure(lab, routes, f"scale-{index}-{routes}", address))
            print(
                f"operator_scale: N={routes}: delivered {_s(runs[-1]['delivered_seconds'])} s",
                file=sys.stderr,
                flush=True,
            )
        assert lab.sampler is not None
        memory = [(t, rss) for t, rss, _ in lab.sampler.samples]
    except BaseException:
        print(f"operator_scale: logs kept in {tmp}", file=sys.stderr)
        raise
    finally:
        lab.stop()
    return {
        "meta": meta,
        "command": command,
        "settings": {
            "sizes": args.sizes,
            "backends": BACKENDS,
            "hostnames": HOSTNAMES,
            "client_threads": CLIENT_THREADS,
            "target_routes": TARGET_ROUTES,
            "target_seconds": TARGET_SECONDS,
            "linearity_limit": LINEARITY_LIMIT,
        },
        "runs": runs,
        **judge(runs),
        "memory": memory,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    errors = (RuntimeError, OSError, subprocess.SubprocessError, httpx.HTTPError)
    result = run_command("operator_scale", argv, lambda command: run(args, command), errors)
    write_results(args.out, "operator_scale", result, render_markdown(result), render_plot)
    return 1 if args.check and missed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
