"""`airlock-microgateway`: the local gateway and the sidecar.

airlock-microgateway run [--upstream URL] [--listen HOST:PORT] [--policy FILE ...]
                         [--workers N] [--metrics HOST:PORT]
airlock-microgateway sidecar --socket-dir DIR [--policy FILE ...] [--workers N]
                             [--metrics HOST:PORT]
                             [--operator HOST:PORT --node-id NS/NAME --tls-dir DIR]

With --operator the sidecar takes its policies from the operator (over mTLS, with the
certificates in --tls-dir) instead of files, and serves nothing until the first arrive.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

# A worker is replaced after this many streams, so that native memory that grpc.aio loses
# stays bounded: the service avoids the known per-stream loss (grpc/grpc#43360, see service.py),
# but a stream Envoy resets mid-request still costs a little.
MAX_STREAMS = 200_000


def _host_port(text: str) -> tuple[str, int]:
    """The sidecar's --metrics. Not gateway.parse_host_port: the gateway module imports grpc
    (through envoy_config), and the supervisor, which serves no gRPC, would carry it (~14 MiB)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"must be HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    from airlock_microgateway.sidecar import default_workers

    parser = argparse.ArgumentParser(
        prog="airlock-microgateway", description="WAF gateway: Envoy + the filter sidecar"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--policy",
            action="append",
            default=[],
            metavar="FILE",
            help="YAML file with ContentSecurityPolicy / DenyRules / Limits / Parser / "
            "HeaderRewrites resources (repeatable); default: the built-in policy",
        )
        command.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help="sidecar worker processes (default: cores, at most 4)",
        )

    run = sub.add_parser("run", help="start Envoy and the sidecar in front of an upstream")
    run.add_argument(
        "--upstream", metavar="URL", help="http(s)://host:port to protect (default: demo echo)"
    )
    run.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    run.add_argument(
        "--metrics",
        default="127.0.0.1:9102",
        metavar="HOST:PORT",
        help="where the sidecar serves Prometheus metrics",
    )
    common(run)

    sidecar = sub.add_parser("sidecar", help="serve ext_proc to an Envoy (the engine sidecar)")
    sidecar.add_argument(
        "--socket-dir",
        required=True,
        metavar="DIR",
        help="directory for the workers' unix sockets (shared with Envoy)",
    )
    sidecar.add_argument(
        "--metrics", type=_host_port, metavar="HOST:PORT", help="serve Prometheus metrics"
    )
    sidecar.add_argument(
        "--operator", metavar="HOST:PORT", help="take policies from the operator's xDS server"
    )
    sidecar.add_argument(
        "--node-id", metavar="NS/NAME", help="the Gateway, as the operator names it"
    )
    sidecar.add_argument(
        "--tls-dir", metavar="DIR", help="ca.crt, tls.crt and tls.key for the operator (mTLS)"
    )
    sidecar.add_argument(
        "--drain-seconds",
        type=float,
        default=10.0,
        help="how long streams in flight may take after SIGTERM",
    )
    sidecar.add_argument(
        "--max-streams",
        type=int,
        default=MAX_STREAMS,
        help="replace a worker after about this many requests, without a gap (bounds memory "
        "growth; 0: never)",
    )
    common(sidecar)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.workers < 1:
        print("airlock-microgateway: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.command == "run":
        from airlock_microgateway.gateway import run

        return run(args.listen, args.upstream, args.policy, args.workers, args.metrics)

    from airlock_microgateway.sidecar import Sidecar, prepare_metrics_dir

    prepare_metrics_dir(Path(tempfile.mkdtemp(prefix="airlock-metrics-")))
    if args.operator:
        if args.policy or not args.node_id or not args.tls_dir:
            print(
                "airlock-microgateway: --operator needs --node-id and --tls-dir, and no --policy",
                file=sys.stderr,
            )
            return 2
        return _sidecar_from_operator(args, args.metrics)
    sidecar = Sidecar(
        args.policy,
        args.socket_dir,
        args.workers,
        args.metrics,
        args.drain_seconds,
        args.max_streams,
    )
    return sidecar.run()


def _sidecar_from_operator(args: argparse.Namespace, metrics: tuple[str, int] | None) -> int:
    """The policy client runs in a process of its own (spawned, not forked: a gRPC client
    thread in the supervisor would be copied into every forked worker) and keeps a file up to
    date that the sidecar watches like any policy file."""
    import multiprocessing
    import signal
    import threading

    from airlock_microgateway.sidecar import Sidecar

    policy_file = Path(tempfile.mkdtemp(prefix="airlock-policies-")) / "policies.yaml"
    client = multiprocessing.get_context("spawn").Process(
        target=_follow_policies,
        args=(args.operator, args.node_id, Path(args.tls_dir), policy_file),
        name="policy-client",
        daemon=True,
    )
    client.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        # Nothing is served before the first policies: Envoy fails closed meanwhile.
        while not policy_file.exists():
            if stop.wait(0.2):
                return 0
            if not client.is_alive():
                print("airlock-microgateway: the policy client stopped", file=sys.stderr)
                return 1
        sidecar = Sidecar(
            [str(policy_file)],
            args.socket_dir,
            args.workers,
            metrics,
            args.drain_seconds,
            args.max_streams,
        )
        return sidecar.run()
    finally:
        client.terminate()
        client.join(5)


def _follow_policies(*args: Any) -> None:
    """The policy client process: it imports the client (and grpc), the supervisor does not."""
    from airlock_microgateway.policy_client import follow_policies

    follow_policies(*args)
