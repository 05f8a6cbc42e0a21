"""`airlock-filters`: inspect requests from the command line.

    airlock-filters inspect [--policy FILE ...] [--level LEVEL] [--explain] INPUT|-

INPUT is JSON Lines, one request per line; the output has one JSON line per input line, in the
same order. A malformed line gets an output line with "error" and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from airlock_filters.engine import Engine
from airlock_filters.errors import PolicyError
from airlock_filters.policy import LEVEL_RANK, default_policy, load_policy_files
from airlock_filters.request import Request


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airlock-filters", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="decide allow / block / log for each request")
    inspect.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML file with DenyRules / Limits / Parser / ContentSecurityPolicy resources "
        "(repeatable); without it, the built-in default policy",
    )
    inspect.add_argument(
        "--level",
        choices=list(LEVEL_RANK),
        help="deny rules level of the built-in policy (default: Standard)",
    )
    inspect.add_argument(
        "--explain", action="store_true", help="print a human-readable report instead of JSON"
    )
    inspect.add_argument("input", metavar="INPUT", help="JSON Lines file, or - for stdin")
    return parser


def inspect_lines(lines: Iterable[str], engine: Engine) -> Iterator[tuple[dict[str, Any], Any]]:
    """(output object, request or None) per non-empty input line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj: Any = None
        try:
            obj = json.loads(line)
            request = Request.from_json(obj)
        except ValueError as exc:
            request_id = obj.get("id") if isinstance(obj, dict) else None
            yield {"id": request_id, "line": number, "error": str(exc)}, None
            continue
        decision = engine.inspect(request)
        yield {"id": obj.get("id"), **decision.to_json()}, request


def explain(out: dict[str, Any], request: Request | None) -> str:
    if request is None:
        return f"line {out.get('line')}: ERROR {out['error']}\n"
    head = f"{out.get('id') or '-'}  {request.method} {request.target[:100]}\n"
    verdict = out["action"].upper()
    if out["status"]:
        verdict += f" {out['status']}"
    if out["reason"]:
        verdict += f" ({out['reason']})"
    lines = [head, f"  -> {verdict}\n"]
    if out.get("detail"):
        lines.append(f"     {out['detail']}\n")
    for match in out["matches"]:
        where = match["field_type"] + (f" {match['field_name']!r}" if match["field_name"] else "")
        lines.append(
            f"     {match['rule_key']:<9} {match['rule_id']:<12} {match['level']:<8} "
            f"{match['mode']:<7} in {where}: {match['excerpt']!r}\n"
        )
    return "".join(lines)


def run_inspect(args: argparse.Namespace, stdout: IO[str]) -> int:
    try:
        policy = load_policy_files(args.policy) if args.policy else default_policy(args.level)
        if args.policy and args.level:
            policy.deny_rules.level = args.level
    except PolicyError as exc:
        print(f"airlock-filters: invalid policy: {exc}", file=sys.stderr)
        return 2
    engine = Engine(policy)
    try:
        stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"airlock-filters: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    with stream:
        for out, request in inspect_lines(stream, engine):
            if args.explain:
                stdout.write(explain(out, request))
            else:
                stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "inspect":
        return run_inspect(args, sys.stdout)
    return 2
