"""`airlock-microgateway`: the local gateway and the sidecar.

airlock-microgateway run [--upstream URL] [--listen HOST:PORT] [--policy FILE ...]
                         [--workers N] [--metrics HOST:PORT]
airlock-microgateway sidecar --socket-dir DIR [--policy FILE ...] [--workers N]
                             [--metrics HOST:PORT]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# grpc.aio keeps a little native memory of each stream Envoy cancels (grpc/grpc#43360): a
# worker is replaced after this many streams so that memory stays bounded.
MAX_STREAMS = 200_000


def _parser() -> argparse.ArgumentParser:
    from airlock_microgateway.gateway import default_workers

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
    sidecar.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics")
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

    metrics = None
    if args.metrics:
        from airlock_microgateway.gateway import GatewayError, parse_host_port

        try:
            metrics = parse_host_port(args.metrics, "--metrics")
        except GatewayError as exc:
            print(f"airlock-microgateway: {exc}", file=sys.stderr)
            return 2
    prepare_metrics_dir(Path(tempfile.mkdtemp(prefix="airlock-metrics-")))
    sidecar = Sidecar(
        args.policy, args.socket_dir, args.workers, metrics, args.drain_seconds, args.max_streams
    )
    return sidecar.run()
