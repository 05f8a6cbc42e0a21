"""A real Kubernetes control plane for tests: etcd + kube-apiserver (+ kube-controller-manager).

Started the way controller-runtime's envtest does it: a throw-away CA signs the API server's
serving certificate and an admin client certificate (group `system:masters`), a separate key pair
signs service-account tokens, authorization is RBAC, everything listens on free ports of
127.0.0.1 and keeps its data in one temporary directory. There is no scheduler and no kubelet:
Pods are stored but never run. The controller manager is optional; it brings owner-reference
garbage collection, namespace deletion and the workload controllers (Deployment -> ReplicaSet).

    with ControlPlane(with_controller_manager=True).start() as cp:
        cp.install_crds(gateway_api_crds())
        ns = cp.new_namespace("demo")
        cp.api.get(f"/api/v1/namespaces/{ns}/configmaps")

`python -m tests.k8s.controlplane up` starts one for manual use (prints KUBECONFIG=...).
The binaries come from tests/k8s/build_binaries.sh (built once, cached under ~/.cache).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime
import functools
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build_binaries.sh"
# shared/ lies beside the repository, for developers and CI alike.
GATEWAY_API_DIR = HERE.parents[2] / "shared" / "gateway-api-v1.6.1"

# Generous: a cold API server on a busy 2-core machine can take a while to become ready.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0

T = TypeVar("T")


class ControlPlaneError(RuntimeError):
    pass


# --- binaries ---------------------------------------------------------------------------------


def binaries_dir() -> Path:
    """The directory holding etcd, kube-apiserver, kube-controller-manager and helm.

    AIRLOCK_K8S_BIN_DIR points at ready binaries; otherwise build_binaries.sh builds any that are
    missing (a cold build takes long; its progress goes to stderr) and names its cache directory.
    """
    override = os.environ.get("AIRLOCK_K8S_BIN_DIR")
    if override:
        return Path(override)
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("BIN_DIR="):
            return Path(line.removeprefix("BIN_DIR="))
    raise ControlPlaneError(f"{BUILD_SCRIPT} printed no BIN_DIR= line:\n{out}")


def gateway_api_crds(directory: Path = GATEWAY_API_DIR) -> list[Path]:
    """The standard-channel Gateway API CRD files (experimental ones are left out)."""
    files = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            annotations = ((doc or {}).get("metadata") or {}).get("annotations") or {}
            if annotations.get("gateway.networking.k8s.io/channel") == "standard":
                files.append(path)
                break
    if not files:
        raise ControlPlaneError(f"no standard-channel Gateway API CRDs in {directory}")
    return files


# --- certificates -----------------------------------------------------------------------------


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class _CA:
    """A self-signed CA that issues serving and client certificates (P-256: fast to generate)."""

    def __init__(self, common_name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.cert = (
            self._builder(name, self.key.public_key(), name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @staticmethod
    def _builder(
        subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            # Back-dated an hour against clock skew; a year is long enough for `up`.
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
        )

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        hosts: Sequence[str] = (),
    ) -> tuple[bytes, bytes]:
        """A (cert PEM, key PEM) pair: a serving certificate when `hosts` is given, else a client
        certificate, whose CN is the Kubernetes user name and O the groups."""
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        builder = self._builder(x509.Name(attributes), key.public_key(), self.cert.subject)
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            usage = ExtendedKeyUsageOID.SERVER_AUTH
        else:
            usage = ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return _pem_cert(builder.sign(self.key, hashes.SHA256())), _pem_key(key)


# --- processes --------------------------------------------------------------------------------


def _free_port() -> int:
    # The port is free when asked; envtest takes the same (small) risk of losing it before use.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the child gets SIGTERM when the thread that started it dies, so a killed
    # test run leaves no control plane behind (a clean stop() is still the normal way).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class _Process:
    """One control-plane binary, its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in a terminal reaches only us, and we stop the
                # processes in order (controller manager, API server, then etcd).
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def wait_for(
    check: Callable[[], T | None],
    what: str,
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    processes: Sequence[_Process] = (),
) -> T:
    """Polls `check` until it returns something truthy; fails early if a process has died."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        for process in processes:
            if not process.alive():
                raise ControlPlaneError(
                    f"{process.name} exited ({process.popen.returncode}) while waiting for "
                    f"{what}:\n{process.tail()}"
                )
        try:
            result = check()
            if result:
                return result
        # Not up yet: refused connections, resets, half-written answers.
        except (httpx.HTTPError, OSError, ValueError) as e:
            last_error = e
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"timed out after {timeout:.0f} s waiting for {what}") from (
                last_error
            )
        time.sleep(interval)


# --- the control plane ------------------------------------------------------------------------


def _dns_label(text: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40].strip("-")
    return label or "test"


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager), see the module docstring.

    After start(): `url`, `kubeconfig` (admin, certificates embedded), `ca_file`, `api` (an
    httpx.Client as admin with base_url set), `client()` for other identities.
    """

    def __init__(self, with_controller_manager: bool = False, bin_dir: Path | None = None) -> None:
        self.with_controller_manager = with_controller_manager
        self._bin_dir = bin_dir
        self._processes: list[_Process] = []
        self._clients: list[httpx.Client] = []
        self._dir: Path | None = None
        self._ca: _CA | None = None
        self._admin: tuple[Path, Path] = (Path(), Path())
        self.api: httpx.Client  # set by start()
        self.url = ""
        self.kubeconfig = Path()
        self.ca_file = Path()

    # The temporary directory holding certificates, data and logs (removed by stop()).
    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise ControlPlaneError("the control plane is not started")
        return self._dir

    def start(self) -> ControlPlane:
        bin_dir = self._bin_dir or binaries_dir()
        self._dir = Path(tempfile.mkdtemp(prefix="airlock-k8s-"))
        try:
            self._start(bin_dir)
        except BaseException:
            self.stop()
            raise
        return self

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / "pki" / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def _start(self, bin_dir: Path) -> None:
        logs = self.dir / "logs"
        logs.mkdir()

        # Certificates: one CA for serving and client certificates, a key pair for tokens.
        self._ca = ca = _CA("airlock-test-ca")
        self.ca_file = self._write("ca.crt", _pem_cert(ca.cert))
        serving_cert, serving_key = ca.issue(
            "kube-apiserver", hosts=["127.0.0.1", "localhost", "kubernetes.default.svc"]
        )
        sa_key = ec.generate_private_key(ec.SECP256R1())
        sa_key_file = self._write("sa.key", _pem_key(sa_key))
        sa_pub_file = self._write(
            "sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
        self._admin = self._write_client_cert("admin", "admin", ["system:masters"])

        etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self._spawn(
            "etcd",
            bin_dir / "etcd",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            # Test data need not survive a power cut; fsync is most of etcd's latency.
            "--unsafe-no-fsync",
            "--log-level=warn",
        )
        wait_for(
            lambda: httpx.get(f"{etcd_url}/health", timeout=2).json().get("health") == "true",
            "etcd /health",
            timeout=START_TIMEOUT,
            processes=[etcd],
        )

        self.url = f"https://127.0.0.1:{api_port}"
        apiserver = self._spawn(
            "kube-apiserver",
            bin_dir / "kube-apiserver",
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={self.dir / 'apiserver'}",
            f"--tls-cert-file={self._write('apiserver.crt', serving_cert)}",
            f"--tls-private-key-file={self._write('apiserver.key', serving_key)}",
            f"--client-ca-file={self.ca_file}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={self.url}",
            f"--service-account-key-file={sa_pub_file}",
            f"--service-account-signing-key-file={sa_key_file}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # As envtest: without the token controller's default ServiceAccount per namespace,
            # this admission plugin would reject every Pod.
            "--disable-admission-plugins=ServiceAccount",
            # The `kubernetes` Service would point at 127.0.0.1, which Endpoints reject (log
            # noise every few seconds); nothing here routes to it.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        )
        self.kubeconfig = self.dir / "kubeconfig"
        self.kubeconfig.write_text(self._kubeconfig_text(*self._admin))
        self.api = self.client()
        wait_for(
            lambda: self.api.get("/readyz", timeout=5).status_code == 200,
            "kube-apiserver /readyz",
            timeout=START_TIMEOUT,
            processes=[etcd, apiserver],
        )

        if self.with_controller_manager:
            kcm_port = _free_port()
            kcm = self._spawn(
                "kube-controller-manager",
                bin_dir / "kube-controller-manager",
                # As admin: simpler than its own certificate, and RBAC is not what is tested here.
                f"--kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                f"--cert-dir={self.dir / 'controller-manager'}",
                "--leader-elect=false",
                f"--service-account-private-key-file={sa_key_file}",
                f"--root-ca-file={self.ca_file}",
                "--profiling=false",
            )
            # Its own serving certificate is self-signed; /healthz needs no credentials. (No
            # --authentication-kubeconfig: delegated authentication would want a front-proxy CA
            # and log its absence forever; its API is only health and metrics anyway.)
            wait_for(
                lambda: (
                    httpx.get(
                        f"https://127.0.0.1:{kcm_port}/healthz", verify=False, timeout=5
                    ).status_code
                    == 200
                ),
                "kube-controller-manager /healthz",
                timeout=START_TIMEOUT,
                processes=[etcd, apiserver, kcm],
            )

    def _spawn(self, name: str, binary: Path, *args: str) -> _Process:
        if not os.access(binary, os.X_OK):
            raise ControlPlaneError(f"{binary} is missing: run {BUILD_SCRIPT}")
        process = _Process(name, [str(binary), *args], self.dir / "logs")
        self._processes.append(process)
        return process

    def _write_client_cert(
        self, file_stem: str, user: str, groups: Sequence[str]
    ) -> tuple[Path, Path]:
        if self._ca is None:
            raise ControlPlaneError("the control plane is not started")
        cert, key = self._ca.issue(user, organizations=groups)
        return self._write(f"{file_stem}.crt", cert), self._write(f"{file_stem}.key", key)

    def _kubeconfig_text(self, cert_file: Path, key_file: Path) -> str:
        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "airlock-test",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": b64(self.ca_file),
                    },
                }
            ],
            "users": [
                {
                    "name": "user",
                    "user": {
                        "client-certificate-data": b64(cert_file),
                        "client-key-data": b64(key_file),
                    },
                }
            ],
            "contexts": [
                {"name": "airlock-test", "context": {"cluster": "airlock-test", "user": "user"}}
            ],
            "current-context": "airlock-test",
        }
        return yaml.safe_dump(config, sort_keys=False)

    def kubeconfig_for(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig with a client certificate for `user` in `groups` (no rights but RBAC's)."""
        stem = _dns_label(user)
        cert_file, key_file = self._write_client_cert(stem, user, groups)
        path = self.dir / f"kubeconfig-{stem}"
        path.write_text(self._kubeconfig_text(cert_file, key_file))
        return path

    def client(
        self, *, user: str | None = None, groups: Sequence[str] = (), token: str | None = None
    ) -> httpx.Client:
        """An HTTPS client of the API server: admin by default, else a client certificate for
        `user` in `groups`, or a bearer `token` (e.g. a ServiceAccount's). Closed by stop()."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif user is not None:
            context.load_cert_chain(
                *map(str, self._write_client_cert(_dns_label(user), user, groups))
            )
        else:
            context.load_cert_chain(*map(str, self._admin))
        client = httpx.Client(base_url=self.url, verify=context, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    # --- conveniences for tests ---------------------------------------------------------------

    def install_crds(self, paths: Iterable[str | Path], timeout: float = 60.0) -> list[str]:
        """Applies the CustomResourceDefinitions in these files (or *.yaml of directories) and
        waits until each is Established. Returns their names."""
        files: list[Path] = []
        for p in map(Path, paths):
            files.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p])
        names = []
        for file in files:
            for doc in yaml.safe_load_all(file.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                name = doc["metadata"]["name"]
                # Server-side apply: creates or updates, so installing twice is harmless.
                response = self.api.patch(
                    f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
                    params={"fieldManager": "airlock-tests", "force": "true"},
                    headers={"Content-Type": "application/apply-patch+yaml"},
                    content=yaml.safe_dump(doc),
                )
                _check(response, f"apply CRD {name}")
                names.append(name)
        for name in names:
            wait_for(
                functools.partial(self._established, name),
                f"CRD {name} Established",
                timeout=timeout,
                processes=self._processes,
            )
        return names

    def _established(self, name: str) -> bool:
        response = self.api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = response.json().get("status", {}).get("conditions", [])
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    def new_namespace(self, prefix: str = "test") -> str:
        """Creates a namespace with a fresh name starting with `prefix` and returns the name."""
        response = self.api.post(
            "/api/v1/namespaces",
            json={"metadata": {"generateName": f"{_dns_label(prefix)[:50]}-"}},
        )
        return str(_check(response, "create namespace")["metadata"]["name"])

    def delete_namespace(self, name: str) -> None:
        # Without the controller manager a deleted namespace stays Terminating; harmless.
        response = self.api.delete(f"/api/v1/namespaces/{name}")
        if response.status_code != 404:
            _check(response, f"delete namespace {name}")

    def processes_alive(self) -> bool:
        return bool(self._processes) and all(p.alive() for p in self._processes)

    # --- stopping -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops the processes (newest first), then removes the temporary directory."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _check(response: httpx.Response, what: str) -> Any:
    """The JSON body of a successful response; the server's message otherwise."""
    if response.is_error:
        raise ControlPlaneError(f"{what}: HTTP {response.status_code}: {response.text}")
    return response.json()


# --- `python -m tests.k8s.controlplane up` --------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.k8s.controlplane")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a control plane and keep it up until Ctrl-C")
    up.add_argument(
        "--no-controller-manager",
        action="store_true",
        help="etcd and kube-apiserver only (no garbage collection, namespaces never go away)",
    )
    up.add_argument(
        "--crds",
        action="append",
        type=Path,
        default=None,
        help="CRD file or directory to install (repeatable; default: Gateway API standard)",
    )
    args = parser.parse_args(argv)

    # SIGTERM (e.g. from make or CI) stops as cleanly as Ctrl-C does.
    def on_sigterm(signum: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C as KeyboardInterrupt even when started in the background (which ignores SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cp = ControlPlane(with_controller_manager=not args.no_controller_manager)
    with contextlib.suppress(KeyboardInterrupt), cp.start():
        cp.install_crds(args.crds or gateway_api_crds())
        print(f"KUBECONFIG={cp.kubeconfig}", flush=True)
        print(f"control plane up (logs in {cp.dir / 'logs'}); Ctrl-C stops it", file=sys.stderr)
        while cp.processes_alive():
            time.sleep(1)
        print("a control-plane process exited", file=sys.stderr)
        return 1
    return 0


def host_address() -> str:
    """This machine's own non-loopback IPv4 address: EndpointSlices may not point at 127.0.0.1,
    yet traffic to the host's own address never leaves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # UDP: no packet is sent, only a route chosen
        address = probe.getsockname()[0]
    if address.startswith("127."):
        raise RuntimeError("no non-loopback IPv4 address on this machine")
    return str(address)


if __name__ == "__main__":
    sys.exit(main())
