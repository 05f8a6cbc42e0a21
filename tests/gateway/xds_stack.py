"""The operator's configuration delivery for tests: the real xDS server in a background event
loop, a certificate directory laid out and updated the way kubelet mounts a Secret, and a real
Envoy engine started from `build_engine_bootstrap`. Everything on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import threading
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from airlock_microgateway.gateway import envoy_binary, free_port
from airlock_operator.certificates import CertificateAuthority, LeafCertificate, bootstrap_secret
from airlock_operator.engine_bootstrap import build_engine_bootstrap
from airlock_operator.settings import Settings
from airlock_operator.xds_server import ConfigCache, ServerTls, XdsServer

from .stack import wait_for

T = TypeVar("T")


class SecretVolume:
    """A directory as kubelet mounts a Secret: each key a symlink through `..data`, which points
    at a timestamped directory; an update writes a new one and renames a new `..data` link over
    the old (one atomic move inside the directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.generation = 0
        path.mkdir(parents=True, exist_ok=True)

    def publish(self, files: dict[str, bytes]) -> None:
        self.generation += 1
        target = self.path / f"..2026_01_01_00_00_{self.generation:02d}"
        target.mkdir()
        for name, content in files.items():
            (target / name).write_bytes(content)
        link = self.path / "..data_tmp"
        os.symlink(target.name, link)
        os.rename(link, self.path / "..data")
        for name in files:
            if not (self.path / name).is_symlink():
                os.symlink(f"..data/{name}", self.path / name)

    def publish_bootstrap(self, ca: CertificateAuthority, leaf: LeafCertificate, ns: str) -> None:
        """The files of the bootstrap Secret, exactly as the operator builds it."""
        data = bootstrap_secret(ca, leaf, ns)["data"]
        self.publish({key: base64.b64decode(value) for key, value in data.items()})


class XdsThread:
    """The operator's xDS server, served by an event loop of its own thread, as in the operator
    (where kopf's handlers set the cache)."""

    def __init__(self, cache: ConfigCache, tls: ServerTls) -> None:
        self.cache = cache
        self.tls = tls
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: XdsServer | None = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def start(self) -> XdsThread:
        """Listen (on the same port again after a stop)."""
        self._server = XdsServer(self.cache, self.tls)
        self.port = self._run(self._server.start(f"127.0.0.1:{self.port}"))
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._run(self._server.stop(0))
            self._server = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def settings(self) -> Settings:
        return Settings(xds_host="localhost", xds_port=self.port)


class Engine:
    """A real Envoy started from the engine bootstrap, its sidecar sockets dummies (the sidecar
    cluster stays unhealthy; unsecured routes do not need it)."""

    def __init__(self, tmp: Path, settings: Settings, node_id: str, tls_dir: Path) -> None:
        self.admin_port = free_port()
        self.log = tmp / "envoy.log"
        self.bootstrap = build_engine_bootstrap(
            settings,
            node_id,
            [str(tmp / "no-sidecar.sock")],
            str(tls_dir),
            self.admin_port,
            ready_port=free_port(),
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, initialized: bool = True) -> Engine:
        """Until Envoy is ready (its first configuration arrived), or with `initialized=False`
        only until its admin interface answers."""
        command = [envoy_binary(), "--config-yaml", json.dumps(self.bootstrap)]
        command += ["--disable-hot-restart", "-l", "warning"]
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._answers("/ready" if initialized else "/server_info"), 60, "envoy")
        return self

    def _answers(self, path: str) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"envoy exited: {self.log.read_text()[-3000:]}")
        try:
            return self.admin(path) is not None
        except OSError:  # not listening yet, or not ready (503)
            return False

    def admin(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = reply.read()
        return json.loads(body) if "json" in path or path == "/certs" else body.decode()

    def stats(self) -> dict[str, int]:
        stats = self.admin("/stats?format=json")["stats"]
        return {s["name"]: s["value"] for s in stats if "value" in s}

    def client_cert_serials(self) -> set[int]:
        """The serial numbers of the client certificates Envoy has loaded."""
        return {
            int(cert["serial_number"], 16)
            for entry in self.admin("/certs")["certificates"]
            for cert in entry["cert_chain"]
        }

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
