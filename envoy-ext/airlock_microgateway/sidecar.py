"""The sidecar process: a supervisor and N worker processes, each serving ext_proc on its own
unix socket (Envoy balances over them), so that one Python interpreter is not the ceiling.

The supervisor compiles the policies once before forking (the workers share the compiled
Hyperscan databases copy-on-write), restarts a worker that dies, watches the policy files (and
SIGHUP) and hands a validated new policy set to every worker, serves the summed Prometheus
metrics of all workers, and on SIGTERM / SIGINT drains the workers and exits.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from airlock_filters.errors import PolicyError
from airlock_filters.policy import read_policy_documents
from airlock_filters.scanner import NotCached, cached_only
from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_store import (
    PolicySet,
    PolicyStore,
    compile_documents,
    documents_digest,
    validate_documents,
)

POLL_SECONDS = 1.0
# Envoy health-checks every second (envoy_config): a worker turning SERVING or NOT_SERVING is
# seen within this.
HEALTH_PAUSE_SECONDS = 2.0


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def socket_paths(socket_dir: str | Path, workers: int) -> list[str]:
    """Every path Envoy knows: two per worker slot, "a" and "b". A slot's worker listens on one;
    its replacement starts on the other (gRPC removes a unix socket's path when it stops
    serving, so a replacement cannot simply take over the path of a worker still draining)."""
    return [str(Path(socket_dir) / f"extproc-{i}-{side}.sock")
            for i in range(workers) for side in "ab"]  # fmt: skip


def remove_sockets(socket_dir: str | Path, workers: int) -> None:
    """Remove the paths a killed sidecar left behind, so that a new one does not seem ready
    before it listens (gRPC removes them itself only when it stops cleanly)."""
    for path in socket_paths(socket_dir, workers):
        Path(path).unlink(missing_ok=True)


def sockets_ready(socket_dir: str | Path, workers: int) -> bool:
    """Whether every worker slot's first worker listens: a started sidecar."""
    return all(Path(p).exists() for p in socket_paths(socket_dir, workers)[::2])


@dataclass
class _Worker:
    index: int
    process: Any  # multiprocessing.Process
    pipe: Connection
    address: str
    ready: bool = False


def _worker_main(
    index: int, address: str, pipe: Connection, store: Any, drain: float, max_streams: int
) -> None:
    """Runs in the forked worker: serve until SIGTERM, take new policy sets from the pipe, tell
    the supervisor when it is ready and when it has served `max_streams` streams."""
    import asyncio

    from airlock_microgateway.service import ExternalProcessorService, serve

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads come from the supervisor only
    observer = Observer()
    send_lock = threading.Lock()

    def tell(message: str) -> None:
        with send_lock, contextlib.suppress(OSError):
            pipe.send((message, index))

    def take_reloads() -> None:
        while True:
            try:
                documents = pipe.recv()
            except (EOFError, OSError):
                return
            try:
                if store.replace(documents):
                    observer.log("info", "policies reloaded", **{"process.worker": index})
            except PolicyError as exc:  # validated by the supervisor; keep the old set anyway
                observer.failed("reload", f"policy reload failed: {exc}")

    threading.Thread(target=take_reloads, daemon=True).start()
    service = ExternalProcessorService(store, observer, max_streams, lambda: tell("retire"))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(address, service, stop, drain, lambda: tell("ready"))

    asyncio.run(main())


def _compile(documents: list[tuple[str, Any]]) -> PolicySet:
    """The documents' policies, from the on-disk Hyperscan cache when every database is in it.

    Otherwise compiled first in a short-lived child process: the databases land in the cache,
    and the compiler's large temporary heap is not inherited by every worker. A fresh
    interpreter, not a fork: the supervisor may have threads (the metrics server)."""
    try:
        with cached_only():
            return compile_documents(documents)
    except NotCached:
        pass
    script = (
        "import json, sys\n"
        "from airlock_microgateway.policy_store import compile_documents\n"
        "compile_documents(json.load(sys.stdin))\n"
    )
    subprocess.run([sys.executable, "-c", script], input=json.dumps(documents), text=True,
                   check=False)  # fmt: skip  # errors surface in the supervisor's own compile
    return compile_documents(documents)


class Sidecar:
    def __init__(
        self,
        policy_files: Sequence[str],
        socket_dir: str,
        workers: int,
        metrics_address: tuple[str, int] | None,
        drain_seconds: float = 10.0,
        max_streams: int = 0,
    ) -> None:
        self.policy_files = list(policy_files)
        self.socket_dir = Path(socket_dir)
        self.addresses = [f"unix:{p}" for p in socket_paths(socket_dir, workers)]
        self.workers = workers
        self.metrics_address = metrics_address
        self.drain_seconds = drain_seconds
        self.max_streams = max_streams
        self.observer = Observer()
        self._workers: list[_Worker] = []
        self._retiring: list[_Worker] = []  # replaced, draining their last streams
        self._stopping = threading.Event()
        self._reload = threading.Event()
        self._context = multiprocessing.get_context("fork")
        self._stamp: tuple[tuple[str, float, int], ...] = ()

    # -- set-up ---------------------------------------------------------------------------------

    def _load(self) -> list[tuple[str, Any]]:
        self._stamp = self._file_stamp()
        return read_policy_documents(self.policy_files)

    def _file_stamp(self) -> tuple[tuple[str, float, int], ...]:
        stamp = []
        for path in self.policy_files:
            try:
                st = os.stat(path)
                stamp.append((path, st.st_mtime, st.st_size))
            except OSError:
                stamp.append((path, 0.0, -1))
        return tuple(stamp)

    def run(self) -> int:
        try:
            documents = self._load()
            validate_documents(documents)
            self.store = PolicyStore(_compile(documents))
        except PolicyError as exc:
            print(f"airlock-microgateway: invalid policy: {exc}", file=sys.stderr)
            return 2
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        remove_sockets(self.socket_dir, self.workers)
        for index in range(self.workers):
            self._workers.append(self._start_worker(index, self.addresses[2 * index]))
        if self.metrics_address is not None:
            self._serve_metrics(*self.metrics_address)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stopping.set())
        signal.signal(signal.SIGHUP, lambda *_: self._reload.set())
        self.observer.log(
            "info",
            "sidecar started",
            **{"airlock.sockets": self.addresses, "airlock.policies": self._policy_names()},
        )
        while not self._stopping.is_set():
            self._handle_messages(POLL_SECONDS)
            self._restart_dead_workers()
            if self._reload.is_set() or self._file_stamp() != self._stamp:
                self._reload.clear()
                self._reload_policies()
        self._drain()
        return 0

    def _policy_names(self) -> list[str]:
        return sorted(self.store.current.policies)

    def _start_worker(self, index: int, address: str) -> _Worker:
        Path(address.removeprefix("unix:")).unlink(missing_ok=True)
        parent_end, child_end = self._context.Pipe()
        # Jitter, so that workers started together do not all retire at the same moment.
        limit = self.max_streams + (
            random.randrange(self.max_streams // 10 + 1) if self.max_streams else 0
        )
        process = self._context.Process(
            target=_worker_main,
            args=(index, address, child_end, self.store, self.drain_seconds, limit),
            name=f"airlock-sidecar-worker-{index}",
            daemon=False,
        )
        process.start()
        child_end.close()
        return _Worker(index, process, parent_end, address)

    def _serve_metrics(self, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, host, registry=registry)

    # -- running --------------------------------------------------------------------------------

    def _handle_messages(self, timeout: float) -> None:
        """Worker messages: "ready" once serving; "retire" after its stream budget."""
        pipes = {worker.pipe: worker for worker in self._workers}
        for pipe in multiprocessing.connection.wait(list(pipes), timeout):
            worker = pipes[pipe]  # type: ignore[index]
            try:
                message, _ = worker.pipe.recv()
            except (EOFError, OSError):
                continue  # it died: restarted below
            if message == "ready":
                worker.ready = True
            elif message == "retire" and not self._stopping.is_set():
                self._replace(worker)
        self._reap_retired()

    def _replace(self, old: _Worker) -> None:
        """A new worker on the slot's other path, one slot at a time, and no request finds no
        worker. With other workers to take the traffic, the old one drains (NOT_SERVING, Envoy
        moves its streams to the others, stop) before the new one starts: never a process more
        than usual, which would be a whole worker's memory on top. A worker alone drains only
        once Envoy's health check has seen its replacement serving."""
        a, b = self.addresses[2 * old.index : 2 * old.index + 2]
        address = b if old.address == a else a
        alone = len(self._workers) == 1
        if not alone:
            self._retire(old)
            self._join(old)
        # The previous owner of that path must be gone: gRPC removes the path when it stops.
        for retired in [w for w in self._retiring if w.address == address]:
            self._join(retired)
        self._reap_retired()
        new = self._start_worker(old.index, address)
        deadline = time.monotonic() + 60
        while not new.ready and new.process.is_alive() and time.monotonic() < deadline:
            if new.pipe.poll(0.1):
                message, _ = new.pipe.recv()
                new.ready = message == "ready"
        time.sleep(HEALTH_PAUSE_SECONDS)  # Envoy sees it serving before anything else changes
        self._workers[self._workers.index(old)] = new
        if alone:
            self._retire(old)
        self.observer.log("info", "worker replaced", **{"process.worker": old.index})

    def _retire(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            os.kill(worker.process.pid, signal.SIGTERM)
        self._retiring.append(worker)

    def _join(self, worker: _Worker) -> None:
        """Wait for a retired worker to drain and stop; kill it if it takes too long."""
        worker.process.join(self.drain_seconds + HEALTH_PAUSE_SECONDS + 5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()

    def _reap_retired(self) -> None:
        for worker in list(self._retiring):
            if not worker.process.is_alive():
                worker.process.join()
                self._forget(worker)
                self._retiring.remove(worker)

    def _restart_dead_workers(self) -> None:
        for i, worker in enumerate(self._workers):
            if worker.process.is_alive():
                continue
            self._forget(worker)
            self.observer.failed(
                "worker_exit",
                f"worker {worker.index} exited with {worker.process.exitcode}; restarting it",
            )
            self._workers[i] = self._start_worker(worker.index, worker.address)

    def _forget(self, worker: _Worker) -> None:
        from prometheus_client import multiprocess

        if worker.process.pid is not None:
            multiprocess.mark_process_dead(worker.process.pid)
        worker.pipe.close()

    def _reload_policies(self) -> None:
        try:
            documents = self._load()
            if documents_digest(documents) == self.store.current.digest:
                return
            validate_documents(documents)
            self.store = PolicyStore(_compile(documents))
        except PolicyError as exc:
            self.observer.failed("reload", f"new policy rejected, keeping the current one: {exc}")
            return
        for worker in self._workers:
            # A dead worker is restarted with the new set, which it inherits.
            with contextlib.suppress(OSError):
                worker.pipe.send(documents)
        self.observer.log("info", "policies reloaded", **{"airlock.policies": self._policy_names()})

    def _drain(self) -> None:
        self.observer.log("info", "sidecar draining")
        self._workers += self._retiring
        for worker in self._workers:
            if worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.drain_seconds + 5
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            self._forget(worker)
        self.observer.log("info", "sidecar stopped")


def prepare_metrics_dir(path: Path) -> None:
    """prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is first imported: call this
    before anything imports it."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
