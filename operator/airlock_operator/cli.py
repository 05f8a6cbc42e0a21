"""`airlock-microgateway-operator`: the operator, as its Deployment runs it.

airlock-microgateway-operator [--settings FILE] [--standalone | --peering NAME]
                              [--liveness URL] [--verbose]

Several replicas elect one active operator through kopf peering (a ClusterKopfPeering object
named by --peering, which the chart installs): the replica of the highest --priority works, the
others pause. Equal priorities pause everyone, so the default is a random one per process.
--standalone runs without peering.
"""

from __future__ import annotations

import argparse
import os
import random
import sys

from airlock_operator.settings import Settings, SettingsError

DEFAULT_LIVENESS = "http://0.0.0.0:8081/healthz"
DEFAULT_PEERING = "airlock-microgateway"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airlock-microgateway-operator",
        description="Kubernetes operator of the Airlock-compatible WAF gateway",
    )
    parser.add_argument("--settings", metavar="FILE", help="the operator's YAML settings file")
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument("--standalone", action="store_true", help="one replica, no peering")
    peering.add_argument("--peering", default=DEFAULT_PEERING, metavar="NAME")
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority (default: random, so that replicas never tie)",
    )
    parser.add_argument(
        "--liveness", default=DEFAULT_LIVENESS, metavar="URL", help="health endpoint ('': none)"
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.settings:
        try:
            Settings.load(args.settings)  # a bad file fails here, clearly, not in a handler
        except SettingsError as exc:
            print(f"airlock-microgateway-operator: {exc}", file=sys.stderr)
            return 2
        from airlock_operator.handlers.lifecycle import SETTINGS_ENV

        os.environ[SETTINGS_ENV] = args.settings

    import kopf

    import airlock_operator.handlers  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.JSON)
    priority = args.priority if args.priority is not None else random.randint(1, 2**31 - 1)
    kopf.run(
        clusterwide=True,
        standalone=args.standalone,
        priority=priority,
        peering_name=None if args.standalone else args.peering,
        liveness_endpoint=args.liveness or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
