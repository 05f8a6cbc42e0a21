"""Pathological input stays linear: the cost of `inspect` as the input doubles.

For each shape the request is built at sizes n, 2n and 4n (all under the default limits, so
the whole input is really parsed and scanned) and the per-request time is measured in the same
run; a ratio near 2 per doubling is linear, near 4 would be quadratic.

    python bench/linearity.py [--implementation hyperscan|re2] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from airlock_filters import Engine, Request, default_policy

FORM = ("Content-Type", "application/x-www-form-urlencoded")
JSON = ("Content-Type", "application/json")


def parens_body(n: int) -> Request:
    return Request("POST", "/", [("Host", "x"), ("Content-Type", "text/plain")], b"(" * n)


def parens_param(n: int) -> Request:
    return Request("POST", "/", [("Host", "x"), FORM], b"a=" + b"(" * n)


def many_params(n: int) -> Request:
    return Request("GET", "/?" + "&".join(f"p{i}=((" for i in range(n)), [("Host", "x")])


def nested_json(n: int) -> Request:
    return Request("POST", "/", [("Host", "x"), JSON], b"[" * n + b'"(("' + b"]" * n)


def wide_json(n: int) -> Request:
    body = json.dumps({f"k{i}": "((((" for i in range(n)}).encode()
    return Request("POST", "/", [("Host", "x"), JSON], body)


def quote_run(n: int) -> Request:
    return Request("GET", "/?q=" + "%27" * n, [("Host", "x")])


SHAPES: dict[str, tuple[Callable[[int], Request], int]] = {
    "text body of `(`": (parens_body, 24 * 1024),
    "form value of `(`": (parens_param, 2 * 1024),
    "query parameters": (many_params, 30),
    "JSON nesting": (nested_json, 24),
    "JSON keys": (wide_json, 60),
    "run of quotes": (quote_run, 80),
}


def seconds_per_request(engine: Engine, request: Request, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(5):
            engine.inspect(request)
        samples.append((time.perf_counter() - start) / 5)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--implementation", default="hyperscan", choices=["hyperscan", "re2"])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    engine = Engine(default_policy("Strict"), implementation=args.implementation)
    print(
        f"{args.implementation}: | shape | n | time(n) µs | time(2n)/time(n) | time(4n)/time(2n) |"
    )
    print("|---|--:|--:|--:|--:|")
    for name, (build, n) in SHAPES.items():
        requests = [build(n), build(2 * n), build(4 * n)]
        decisions = {engine.inspect(r).reason for r in requests}
        assert "LIMITS" not in decisions, f"{name}: sizes must stay under the limits"
        t1, t2, t4 = (seconds_per_request(engine, r, args.rounds) for r in requests)
        print(f"| {name} | {n} | {t1 * 1e6:.0f} | {t2 / t1:.2f} | {t4 / t2:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
