"""Speed of the filter engine: per-request cost of `inspect`, scan throughput, memory.

Three engines over the same default policy, doing the same parsing and normalization:
- hyperscan: the compiled scanner (Cython extension over Hyperscan; RE2 for patterns it refuses);
- re2: its pure-Python twin on pyre2, which searches one pattern at a time;
- naive: the baseline, `Engine(default_policy())` with its scanner replaced by
  `NaiveReScanner` (bench/naive_scanner.py: Python's `re`, looping over the same patterns and
  values), so that only the matching differs.

Four benign request shapes, generated here deterministically: a GET with 10 query parameters
and 15 headers, a 1 KiB form POST, a 10 KiB JSON POST and a 100 KiB multipart upload (a 100 KiB
file part plus a few text fields); and "mix", the four with equal weights.

The machine is shared and noisy, so no absolute time is judged: targets are ratios to baselines
measured in the same run. Every round times one batch of every case (measurement, shape, engine)
in a shuffled order, so that a burst of noise hits all engines alike. A case's figure is the
median of its per-round means; a ratio is the median of the per-round ratios (each from batches
of the same round).

Targets, on the mix: naive / hyperscan >= 30x and re2 / hyperscan >= 3x.

Scan throughput is `engine.scanner.scan(values, bits)` alone, in MB/s (10^6 bytes) of the
values the engine would scan for each request. The report also splits the compiled engine's
`inspect` into scan and the rest (parsing, normalization, checks: the same in every engine, so
it caps every ratio), and names the costliest patterns. Memory of a compiled default policy:
the size of the Hyperscan database, and the growth of the resident set while building an
Engine, measured in a fresh subprocess for each implementation.

Exit status: 0, unless --check is given and a target is missed (1).

Usage:
    python bench/speed.py                    # writes bench/results/speed.{md,json}
    python bench/speed.py --rounds 15 --check
    python bench/speed.py --quick --out /tmp/speed
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import random
import re
import resource
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from naive_scanner import NaiveReScanner, compile_naive

from airlock_filters._scanner_py import compile_pattern
from airlock_filters.engine import Engine
from airlock_filters.parsers import parse_request
from airlock_filters.policy import default_policy
from airlock_filters.request import Request

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "results"

SHAPES = ("get", "form", "json", "multipart")
MIX = "mix"
COMPILED = "hyperscan"
ENGINES = (COMPILED, "re2", "naive")
# Minimum of (other engine's time) / (compiled engine's time) per request on the mix.
TARGETS = {"naive": 30.0, "re2": 3.0}

DEFAULT_ROUNDS = 9
DEFAULT_BATCH_SECONDS = 0.05
QUICK_ROUNDS = 2
QUICK_BATCH_SECONDS = 0.003
SEED = 20240612

# --- benign requests ----------------------------------------------------------------------------

FIRST_NAMES = ["Emma", "Liam", "Sofia", "Noah", "Mia", "Lucas", "Hannah", "Mateo", "Chloé", "Jonas"]
LAST_NAMES = ["Müller", "García", "Nguyen", "Johansson", "Rossi", "Okafor", "Dubois", "Kowalski"]
ADDRESSES = [
    ("Bahnhofstrasse 12", "Zürich", "8001", "CH"),
    ("221 Baker Street", "London", "NW1 6XE", "GB"),
    ("Calle de Alcalá 48", "Madrid", "28014", "ES"),
    ("Rue de Rivoli 99", "Paris", "75001", "FR"),
    ("1600 Amphitheatre Parkway", "Mountain View", "94043", "US"),
    ("Karl-Liebknecht-Str. 7", "Berlin", "10178", "DE"),
]
PRODUCTS = [
    ("AUD-WH1000", "Wireless Noise Cancelling Headphones", 279.0, ["audio", "wireless"]),
    ("CAB-USBC-2M", "USB-C Charging Cable (2 m, braided)", 14.99, ["cables", "usb-c"]),
    ("KBD-MX-TKL", "Mechanical Keyboard, tenkeyless, brown switches", 129.0, ["keyboards"]),
    ("MON-27-4K", '27" 4K Monitor with HDR400', 349.5, ["displays", "4k"]),
    ("BAG-LAP-15", "Laptop Backpack 15.6 inch, water resistant", 59.9, ["bags", "travel"]),
    ("SPK-BT-MINI", "Portable Bluetooth Speaker", 39.95, ["audio", "outdoor"]),
    ("MSE-ERGO-V", "Ergonomic Vertical Mouse", 44.0, ["mice", "ergonomic"]),
]
SENTENCES = [
    "Please leave the parcel with the neighbour at number 14 if nobody is home.",
    "Happy birthday! Hope you enjoy the new headphones on your trip to Lisbon.",
    "The doorbell is broken, so please call when you arrive.",
    "Could you wrap it as a gift and leave out the invoice?",
    "Delivery after 5 pm would be ideal; we are at work until then.",
    "Thanks for the quick help with my last order, much appreciated.",
]
STATUSES = ["paid", "shipped", "delivered", "processing"]
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
HOST = "shop.example.com"
_FORM = "application/x-www-form-urlencoded"


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=length))


def _browser_headers(rng: random.Random, referer: str, fetch_mode: str) -> list[tuple[str, str]]:
    """The 15 headers Chrome sends on a same-site navigation (or form submission)."""
    cookie = "; ".join(
        [
            f"session_id={rng.randbytes(16).hex()}",
            f"csrftoken={_token(rng, 32)}",
            f"_ga=GA1.2.{rng.randint(10**9, 2 * 10**9)}.{rng.randint(17 * 10**8, 18 * 10**8)}",
            "cart_items=3",
            "locale=en-US",
            "theme=dark",
        ]
    )
    return [
        ("Host", HOST),
        ("User-Agent", USER_AGENT),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Referer", referer),
        ("Cookie", cookie),
        ("Connection", "keep-alive"),
        ("Upgrade-Insecure-Requests", "1"),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-Mode", fetch_mode),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-User", "?1"),
        ("Sec-CH-UA", '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'),
        ("Sec-CH-UA-Platform", '"Windows"'),
    ]


def _post_headers(rng: random.Random, referer: str, content_type: str) -> list[tuple[str, str]]:
    return [
        *_browser_headers(rng, referer, "navigate"),
        ("Origin", f"https://{HOST}"),
        ("Content-Type", content_type),
    ]


def get_request(rng: random.Random) -> Request:
    query = urlencode(
        [
            ("q", "wireless noise cancelling headphones"),
            ("category", "electronics/audio/headphones"),
            ("brand", "Sony"),
            ("min_price", "50"),
            ("max_price", "300"),
            ("color", "black"),
            ("sort", "price_asc"),
            ("page", "2"),
            ("per_page", "48"),
            ("utm_source", "newsletter"),
        ]
    )
    referer = f"https://{HOST}/electronics/audio?utm_campaign=summer_sale"
    return Request("GET", f"/shop/search?{query}", _browser_headers(rng, referer, "navigate"))


def form_request(rng: random.Random, size: int = 1024) -> Request:
    """A checkout address form, its free-text gift message filling the body to about `size`."""
    street, city, postal, country = rng.choice(ADDRESSES)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    fields = [
        ("csrf_token", _token(rng, 43)),
        ("first_name", first),
        ("last_name", last),
        ("email", f"{first.lower()}.{rng.randint(1, 99)}@example.org"),
        ("phone", f"+41 44 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"),
        ("address_line1", street),
        ("address_line2", "2nd floor, c/o Reception"),
        ("city", city),
        ("postal_code", postal),
        ("country", country),
        ("shipping_method", "express"),
        ("newsletter", "on"),
        ("accept_terms", "1"),
    ]
    message: list[str] = []
    while True:
        candidate = [*message, rng.choice(SENTENCES)]
        if len(urlencode([*fields, ("gift_message", " ".join(candidate))])) > size:
            break
        message = candidate
    body = urlencode([*fields, ("gift_message", " ".join(message))]).encode()
    headers = _post_headers(rng, f"https://{HOST}/checkout/address", _FORM)
    return Request("POST", "/checkout/address", headers, body)


def _order(rng: random.Random, number: int) -> dict[str, Any]:
    street, city, postal, country = rng.choice(ADDRESSES)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    items: list[dict[str, Any]] = []
    for sku, name, price, tags in rng.sample(PRODUCTS, rng.randint(1, 3)):
        items.append(
            {
                "sku": sku,
                "name": name,
                "quantity": rng.randint(1, 3),
                "unit_price": price,
                "tags": tags,
                "gift_wrap": rng.random() < 0.2,
            }
        )
    subtotal = round(sum(i["unit_price"] * i["quantity"] for i in items), 2)
    return {
        "id": f"ord_{number:06d}",
        "created_at": f"2024-06-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:14:05Z",
        "status": rng.choice(STATUSES),
        "customer": {
            "id": rng.randint(10_000, 99_999),
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@example.org",
            "address": {"street": street, "city": city, "postal_code": postal, "country": country},
        },
        "items": items,
        "totals": {"subtotal": subtotal, "shipping": 4.9, "currency": "EUR"},
        "notes": rng.choice([*SENTENCES, None]),
    }


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()  # UTF-8 as browsers send it


def json_request(rng: random.Random, size: int = 10 * 1024) -> Request:
    """A page of orders from an API, as many as fit in about `size` bytes."""
    orders: list[dict[str, Any]] = []
    document: dict[str, Any] = {"orders": orders, "page": {"number": 3, "size": 0, "next": None}}
    while True:
        orders.append(_order(rng, 1000 + len(orders)))
        document["page"]["size"] = len(orders)
        if len(_json_bytes(document)) > size:
            orders.pop()
            document["page"]["size"] = len(orders)
            break
    body = _json_bytes(document)
    headers = _post_headers(rng, f"https://{HOST}/account/orders", "application/json")
    return Request("POST", "/api/v2/orders/sync", headers, body)


def multipart_request(rng: random.Random, file_size: int = 100 * 1024) -> Request:
    """A photo upload: a `file_size` JPEG part plus a few text fields, as Chrome sends it."""
    boundary = "----WebKitFormBoundary" + _token(rng, 16)
    texts = [
        ("title", "Sunset over Lake Zurich"),
        ("description", "Taken from the Quaibrücke around 9 pm, no filter. " + SENTENCES[1]),
        ("album_id", "48213"),
        ("tags", "sunset,lake,zurich,summer"),
        ("visibility", "friends"),
        ("csrf_token", _token(rng, 43)),
    ]
    # A JPEG header, then incompressible bytes as in real image data, then the end marker.
    jfif = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00H\x00H\x00\x00"
    photo = jfif + rng.randbytes(file_size - len(jfif) - 2) + b"\xff\xd9"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in texts
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
        f'filename="IMG_20240612_210455.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + photo
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    headers = _post_headers(rng, f"https://{HOST}/photos/new", content_type)
    return Request("POST", "/photos/upload", headers, body)


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    request: Request


def build_shapes(seed: int = SEED) -> list[Shape]:
    rng = random.Random(seed)
    return [
        Shape("get", "GET, 10 query parameters, 15 headers", get_request(rng)),
        Shape("form", "1 KiB form POST (checkout address)", form_request(rng)),
        Shape("json", "10 KiB JSON POST (page of orders)", json_request(rng)),
        Shape("multipart", "100 KiB multipart upload (photo + 6 fields)", multipart_request(rng)),
    ]


# --- engines ------------------------------------------------------------------------------------


def build_engines() -> dict[str, Engine]:
    """The three engines over the default policy; without the extension, no compiled one."""
    engines: dict[str, Engine] = {}
    try:
        engines[COMPILED] = Engine(default_policy(), implementation=COMPILED)
    except RuntimeError as exc:
        print(f"warning: no compiled engine ({exc}); measuring the others", file=sys.stderr)
    engines["re2"] = Engine(default_policy(), implementation="re2")
    # Built on the re2 twin only because it compiles fastest; its scanner is replaced at once.
    naive = Engine(default_policy(), implementation="re2")
    naive.scanner = NaiveReScanner(naive.patterns)
    engines["naive"] = naive
    return engines


def scan_input(engine: Engine, request: Request) -> tuple[list[bytes], list[int]]:
    """The values and slot bits the engine's `inspect` hands to its scanner for `request`."""
    parsed = parse_request(request, engine.policy)
    values, bits = engine._values(parsed.fields)
    return values, bits


def describe_decision(engine: Engine, request: Request) -> str:
    decision = engine.inspect(request)
    rules = sorted({f"{m.rule_id}@{m.field_name}" for m in decision.matches})
    return decision.action + (f" ({', '.join(rules)})" if rules else "")


def pattern_name(engine: Engine, index: int) -> str:
    """The rule id behind a pattern of the engine's scanner."""
    entry = engine._entries[index]
    if entry.rule is not None:
        return entry.rule.id
    return f"custom:{entry.custom.rule_key}" if entry.custom is not None else str(index)


def fallback_patterns(engine: Engine) -> list[dict[str, Any]]:
    """Patterns the compiled engine searches with RE2 beside Hyperscan, and Hyperscan's reason."""
    # Read from the scanner's internals: the library only logs them, and they can dominate the
    # compiled engine's cost.
    scanner = engine.scanner
    reasons = getattr(getattr(scanner, "_hs", None), "rejected_reasons", {})
    return [
        {"pattern": i, "rule": pattern_name(engine, i), "reason": reasons.get(i, "rejected")}
        for i in getattr(scanner, "_fallback_ids", [])
    ]


def _search_seconds(regex: Any, values: Sequence[bytes], repeat: int = 3) -> float:
    # The best of a few passes: a single pass is easily hit by one preemption (several ms).
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for value in values:
            regex.search(value)
        best = min(best, time.perf_counter() - start)
    return best


def pattern_costs(
    engine: Engine, inputs: Sequence[tuple[list[bytes], list[int]]], top: int = 5
) -> dict[str, Any]:
    """The costliest patterns, each searched alone over one request of each shape.

    Not interleaved like the rounds, so indicative only: it names what dominates when a
    target is missed.
    """
    rows: list[dict[str, Any]] = []
    for index, (expression, flags, mask) in enumerate(engine.patterns):
        selected = [
            v for values, bits in inputs for v, b in zip(values, bits, strict=True) if b & mask
        ]
        try:
            python_ms: float | None = _search_seconds(compile_naive(expression, flags), selected)
        except re.error:
            python_ms = None
        rows.append(
            {
                "pattern": index,
                "rule": pattern_name(engine, index),
                "bytes": len(expression),
                "values": len(selected),
                "re2_ms": _search_seconds(compile_pattern(expression, flags), selected) * 1e3,
                "python_re_ms": None if python_ms is None else python_ms * 1e3,
            }
        )
    by_re2 = sorted(rows, key=lambda r: -r["re2_ms"])[:top]
    by_python = sorted(rows, key=lambda r: -(r["python_re_ms"] or 0.0))[:top]
    chosen = {r["pattern"]: r for r in by_re2 + by_python}
    return {
        "total_re2_ms": sum(r["re2_ms"] for r in rows),
        "total_python_re_ms": sum(r["python_re_ms"] or 0.0 for r in rows),
        "top": sorted(chosen.values(), key=lambda r: -r["re2_ms"]),
    }


# --- timing -------------------------------------------------------------------------------------


@dataclass
class Case:
    """One timed thing, e.g. ("inspect", "json", "naive"): a batch of calls per round."""

    measure: str
    shape: str
    engine: str
    run: Callable[[], object]
    number: int = 1
    samples: list[float] = field(default_factory=list)  # seconds per call, one per round


def time_batch(run: Callable[[], object], number: int) -> float:
    """Mean seconds per call over `number` calls."""
    # As timeit does: a collection landing in one engine's batch would be charged to it alone.
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            run()
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def calibrate(case: Case, batch_seconds: float) -> None:
    """Pick the number of calls per batch so that a batch takes about `batch_seconds`."""
    # The first call doubles as the warm-up (lazy compilation, caches, first-touch allocations);
    # it overestimates the cost, which only makes the batches of slow cases shorter.
    number, elapsed = 1, time_batch(case.run, 1)
    while elapsed * number < batch_seconds / 4 and number < 1_000_000:
        number *= 4
        elapsed = time_batch(case.run, number)
    case.number = max(1, math.ceil(batch_seconds / max(elapsed, 1e-9)))


def run_rounds(cases: Sequence[Case], rounds: int, seed: int = SEED) -> None:
    rng = random.Random(seed)
    order = list(cases)
    for _ in range(rounds):
        rng.shuffle(order)  # interleaved, in a new order each round: noise hits all alike
        for case in order:
            case.samples.append(time_batch(case.run, case.number))


def median_ratio(slower: Sequence[float], faster: Sequence[float]) -> float:
    """Median of per-round ratios: each compares batches timed moments apart."""
    return statistics.median(s / f for s, f in zip(slower, faster, strict=True))


def mix_samples(per_shape: Sequence[Sequence[float]]) -> list[float]:
    """Per-round mean cost of a request drawn from the shapes with equal weights."""
    return [statistics.fmean(round_values) for round_values in zip(*per_shape, strict=True)]


# --- memory -------------------------------------------------------------------------------------


def _status_bytes(key: str) -> int | None:
    """A size from /proc/self/status (Linux), e.g. VmRSS or VmHWM, in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None


def _rss_bytes() -> int:
    return _status_bytes("VmRSS") or _peak_rss_bytes()


def _peak_rss_bytes() -> int:
    # VmHWM belongs to this process image; ru_maxrss may start at the forking parent's size.
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes on macOS, KiB elsewhere


def _reset_peak_rss() -> None:
    """Make the high-water mark start from now, so that it covers the build only (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass  # the peak then also covers the imports, which only overstates it


def memory_probe(implementation: str) -> dict[str, Any]:
    """Build one Engine in this (fresh) process and report what it cost; imports excluded."""
    policy = default_policy()
    gc.collect()
    before = _rss_bytes()
    _reset_peak_rss()
    start = time.perf_counter()
    engine = Engine(policy, implementation=implementation)
    seconds = time.perf_counter() - start
    peak = _peak_rss_bytes()
    gc.collect()
    database_size = getattr(engine.scanner, "database_size", None)
    return {
        "implementation": implementation,
        "patterns": len(engine.patterns),
        "build_seconds": seconds,
        "rss_growth_bytes": _rss_bytes() - before,
        "peak_rss_growth_bytes": peak - before,
        "database_bytes": database_size() if database_size is not None else None,
    }


class MemoryProbe:
    """`memory_probe` run in a fresh interpreter: this one holds three engines already.

    Started before this process builds its own engines so that the two compilations overlap;
    that only inflates the probe's build time, not the memory it reports.
    """

    def __init__(self, implementation: str) -> None:
        self.implementation = implementation
        # A file, not a pipe: a chatty child must not block on a pipe nobody reads yet. It
        # outlives this call, so no context manager; `result` closes it.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--memory-probe", implementation],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def result(self) -> dict[str, Any] | None:
        stdout, _ = self._proc.communicate()
        self._stderr.seek(0)
        errors = self._stderr.read()
        self._stderr.close()
        if self._proc.returncode != 0:
            print(f"warning: memory probe {self.implementation} failed:\n{errors}", file=sys.stderr)
            return None
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return result


# --- the run ------------------------------------------------------------------------------------


def measure(rounds: int, batch_seconds: float) -> dict[str, Any]:
    load_before = os.getloadavg()
    probes = [MemoryProbe(implementation) for implementation in (COMPILED, "re2")]
    shapes = build_shapes()
    engines = build_engines()
    # Collected before any timing: a compiling child would steal a CPU from the rounds.
    memory = {probe.implementation: probe.result() for probe in probes}
    any_engine = engines["re2"]
    requests: dict[str, Any] = {}
    scan_bytes: dict[str, int] = {}
    inputs: list[tuple[list[bytes], list[int]]] = []
    cases: list[Case] = []
    for shape in shapes:
        request = shape.request
        values, bits = scan_input(any_engine, request)
        inputs.append((values, bits))
        scan_bytes[shape.name] = sum(len(v) for v in values)
        requests[shape.name] = {
            "description": shape.description,
            "target_bytes": len(request.target),
            "headers": len(request.headers),
            "body_bytes": len(request.body or b""),
            "fields": len(parse_request(request, any_engine.policy).fields),
            "values_scanned": len(values),
            "value_bytes": scan_bytes[shape.name],
            "decision": {name: describe_decision(e, request) for name, e in engines.items()},
        }
        for name, engine in engines.items():
            values, bits = scan_input(engine, request)
            cases.append(Case("inspect", shape.name, name, _bind_inspect(engine, request)))
            cases.append(Case("scan", shape.name, name, _bind_scan(engine, values, bits)))
    for case in cases:
        calibrate(case, batch_seconds)
    run_rounds(cases, rounds)
    compiled = engines.get(COMPILED)
    return {
        "meta": _meta(engines, rounds, batch_seconds, load_before),
        "requests": requests,
        **summarize(cases, list(engines), scan_bytes),
        "memory": memory,
        "hyperscan_fallbacks": fallback_patterns(compiled) if compiled else None,
        "pattern_costs": pattern_costs(any_engine, inputs),
    }


def _bind_inspect(engine: Engine, request: Request) -> Callable[[], object]:
    return lambda: engine.inspect(request)


def _bind_scan(engine: Engine, values: list[bytes], bits: list[int]) -> Callable[[], object]:
    return lambda: engine.scanner.scan(values, bits)


def _meta(
    engines: dict[str, Engine], rounds: int, batch_seconds: float, load_before: tuple[float, ...]
) -> dict[str, Any]:
    naive = engines["naive"].scanner
    compiled = engines.get(COMPILED)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
        "rounds": rounds,
        "batch_seconds": batch_seconds,
        "engines": list(engines),
        "patterns": len(engines["re2"].patterns),
        "hyperscan_fallback_patterns": len(fallback_patterns(compiled)) if compiled else None,
        "naive_skipped_patterns": len(naive.skipped) if isinstance(naive, NaiveReScanner) else 0,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summarize(
    cases: Sequence[Case], engines: list[str], scan_bytes: dict[str, int]
) -> dict[str, Any]:
    by_key = {(c.measure, c.shape, c.engine): c.samples for c in cases}
    inspect: dict[str, dict[str, list[float]]] = {s: {} for s in (*SHAPES, MIX)}
    throughput: dict[str, dict[str, list[float]]] = {s: {} for s in (*SHAPES, MIX)}
    scan_times: dict[str, dict[str, list[float]]] = {s: {} for s in (*SHAPES, MIX)}
    for engine in engines:
        for shape in SHAPES:
            inspect[shape][engine] = by_key["inspect", shape, engine]
            scan_times[shape][engine] = by_key["scan", shape, engine]
            throughput[shape][engine] = [scan_bytes[shape] / t for t in scan_times[shape][engine]]
        inspect[MIX][engine] = mix_samples([inspect[s][engine] for s in SHAPES])
        # Throughput of the mix: all bytes of one request of each shape over the summed time.
        scan_times[MIX][engine] = [
            sum(r) for r in zip(*(scan_times[s][engine] for s in SHAPES), strict=True)
        ]
        total = sum(scan_bytes.values())
        throughput[MIX][engine] = [total / t for t in scan_times[MIX][engine]]
    return {
        "inspect_us": {
            s: {e: statistics.median(v) * 1e6 for e, v in row.items()} for s, row in inspect.items()
        },
        "inspect_ratios": _ratios(inspect, engines),
        # Per request, as `inspect` pays it; the mix weighs the shapes equally.
        "scan_us": {
            **{s: {e: statistics.median(scan_times[s][e]) * 1e6 for e in engines} for s in SHAPES},
            MIX: {
                e: statistics.median(mix_samples([scan_times[s][e] for s in SHAPES])) * 1e6
                for e in engines
            },
        },
        "scan_mb_per_s": {
            s: {e: statistics.median(v) / 1e6 for e, v in row.items()}
            for s, row in throughput.items()
        },
        "scan_ratios": _ratios(scan_times, engines),
        "targets": _targets(inspect, engines),
        "samples": {
            "inspect_us": {
                s: {e: [t * 1e6 for t in v] for e, v in r.items()} for s, r in inspect.items()
            },
            "scan_us": {
                s: {e: [t * 1e6 for t in v] for e, v in r.items()} for s, r in scan_times.items()
            },
            "batch_calls": {f"{c.measure}/{c.shape}/{c.engine}": c.number for c in cases},
        },
    }


def _ratios(times: dict[str, dict[str, list[float]]], engines: list[str]) -> dict[str, Any]:
    """(engine's time) / (compiled engine's time), per shape: how many times faster it is."""
    if COMPILED not in engines:
        return {}
    return {
        shape: {e: median_ratio(row[e], row[COMPILED]) for e in engines if e != COMPILED}
        for shape, row in times.items()
    }


def _targets(
    inspect: dict[str, dict[str, list[float]]], engines: list[str]
) -> list[dict[str, Any]]:
    targets = []
    for baseline, minimum in TARGETS.items():
        ratio = None
        if COMPILED in engines:
            ratio = median_ratio(inspect[MIX][baseline], inspect[MIX][COMPILED])
        targets.append(
            {
                "shape": MIX,
                "ratio": f"{baseline}/{COMPILED}",
                "minimum": minimum,
                "value": ratio,
                "met": ratio is not None and ratio >= minimum,
            }
        )
    return targets


# --- report -------------------------------------------------------------------------------------


def _kib(size: float | None) -> str:
    return "n/a" if size is None else f"{size / 1024:,.1f} KiB"


def _sig(value: float) -> str:
    """Three significant digits, without an exponent: throughputs span many decades."""
    if value <= 0:
        return "0"
    return f"{value:,.{max(0, 2 - math.floor(math.log10(value)))}f}"


def _x(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:,.1f}x"


def render_markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    engines: list[str] = meta["engines"]
    others = [e for e in engines if e != COMPILED]
    lines = [
        "# Speed of airlock-filters",
        "",
        f"{meta['date']}, {meta['cpu']} ({meta['cpus']} CPUs), Python {meta['python']}; "
        f"load average {meta['load_before'][0]:.2f} before, {meta['load_after'][0]:.2f} after.",
        f"Default policy: {meta['patterns']} patterns "
        f"({meta['hyperscan_fallback_patterns']} searched by RE2 beside Hyperscan in the compiled "
        f"engine; {meta['naive_skipped_patterns']} that Python `re` cannot compile skipped by the "
        f"naive baseline). {meta['rounds']} rounds of ~{meta['batch_seconds'] * 1000:g} ms "
        "batches per case, interleaved in a shuffled order.",
        "",
        "The machine is shared and noisy: absolute times (medians of per-round means) are "
        "indicative only, and when the load shifts during the run they may even disagree with "
        "the ratios. Ratios compare batches timed in the same round (median of the per-round "
        "ratios); only they are judged against targets. Per-round samples are in speed.json.",
        "",
        "## Requests",
        "",
        "| Shape | Request | Headers | Body bytes | Fields | Values scanned | Value bytes "
        "| Decision |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for shape in SHAPES:
        r = result["requests"][shape]
        decisions = set(r["decision"].values())
        decision = decisions.pop() if len(decisions) == 1 else json.dumps(r["decision"])
        lines.append(
            f"| {shape} | {r['description']} | {r['headers']} | {r['body_bytes']:,} "
            f"| {r['fields']} | {r['values_scanned']} | {r['value_bytes']:,} | {decision} |"
        )
    lines += [
        "",
        "File contents of a multipart upload are data for the application, not parameters: the "
        "parser passes only the file name to the scanner, so that shape costs mostly parsing.",
        "",
        "## Per-request cost of `inspect` (µs)",
        "",
        "| Shape | " + " | ".join(engines) + " | "
        + " | ".join(f"{e} / {COMPILED}" for e in others) + " |",
        "|---|" + "--:|" * (len(engines) + len(others)),
    ]  # fmt: skip
    targets = {t["ratio"].partition("/")[0]: t for t in result["targets"]}
    for shape in (*SHAPES, MIX):
        us = result["inspect_us"][shape]
        ratios = result["inspect_ratios"].get(shape, {})
        cells = [f"{us[e]:,.1f}" for e in engines]
        for other in others:
            cell = _x(ratios.get(other))
            if shape == MIX and other in targets:
                t = targets[other]
                cell += f" (target ≥ {t['minimum']:g}x: {'met' if t['met'] else 'MISSED'})"
            cells.append(cell)
        name = f"**{shape}** (equal weights)" if shape == MIX else shape
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += _render_breakdown(result)
    lines += [
        "",
        "## Scan throughput (MB/s of `scanner.scan` alone)",
        "",
        "| Shape | Value bytes | " + " | ".join(engines) + " | "
        + " | ".join(f"{e} / {COMPILED} (time)" for e in others) + " |",
        "|---|--:|" + "--:|" * (len(engines) + len(others)),
    ]  # fmt: skip
    total_bytes = sum(result["requests"][s]["value_bytes"] for s in SHAPES)
    for shape in (*SHAPES, MIX):
        size = total_bytes if shape == MIX else result["requests"][shape]["value_bytes"]
        mbs = result["scan_mb_per_s"][shape]
        ratios = result["scan_ratios"].get(shape, {})
        cells = [_sig(mbs[e]) for e in engines] + [_x(ratios.get(e)) for e in others]
        lines.append(f"| {shape} | {size:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Memory of a compiled default policy",
        "",
        "Building `Engine(default_policy())` in a fresh process, imports excluded. Build "
        "times are indicative: the probes compile while the benchmark builds its own engines.",
        "",
        "| Implementation | Hyperscan database | RSS growth | Peak RSS growth | Build time |",
        "|---|--:|--:|--:|--:|",
    ]
    for impl, mem in result["memory"].items():
        if mem is None:
            lines.append(f"| {impl} | failed | | | |")
            continue
        lines.append(
            f"| {impl} | {_kib(mem['database_bytes'])} | {_kib(mem['rss_growth_bytes'])} "
            f"| {_kib(mem['peak_rss_growth_bytes'])} | {mem['build_seconds']:.2f} s |"
        )
    lines += _render_patterns(result)
    lines += ["", "## Targets", ""]
    for t in result["targets"]:
        lines.append(
            f"- {t['ratio']} on the {t['shape']} ≥ {t['minimum']:g}x: {_x(t['value'])} — "
            + ("met" if t["met"] else "MISSED")
        )
    return "\n".join(lines) + "\n"


def _render_breakdown(result: dict[str, Any]) -> list[str]:
    """How much of the compiled engine's `inspect` is the scan, and what that caps."""
    if COMPILED not in result["meta"]["engines"]:
        return []
    lines = [
        "",
        f"### Where the time of `inspect` goes ({COMPILED})",
        "",
        "The rest (parsing, normalization, structural checks, building the scan input) is the "
        "same code in every engine, so it caps the ratios: the last column is naive / "
        f"{COMPILED} as it would be if the compiled scan took no time at all.",
        "",
        "| Shape | inspect (µs) | scan (µs) | rest (µs) | rest share | naive / rest |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for shape in (*SHAPES, MIX):
        inspect_us = result["inspect_us"][shape]
        scan_us = result["scan_us"][shape][COMPILED]
        rest = inspect_us[COMPILED] - scan_us
        ceiling = _x(inspect_us["naive"] / rest) if rest > 0 else "n/a"
        lines.append(
            f"| {shape} | {inspect_us[COMPILED]:,.1f} | {scan_us:,.1f} | {rest:,.1f} "
            f"| {max(rest, 0.0) / inspect_us[COMPILED]:.0%} | {ceiling} |"
        )
    return lines


def _render_patterns(result: dict[str, Any]) -> list[str]:
    costs = result["pattern_costs"]
    fallbacks = {f["pattern"]: f for f in result["hyperscan_fallbacks"] or []}
    lines = ["", "## Costliest patterns", ""]
    if fallbacks:
        lines.append(
            "Searched by RE2 beside Hyperscan in the compiled engine: "
            + ", ".join(f"{f['rule']} ({f['reason']})" for f in fallbacks.values())
            + "."
        )
        lines.append("")
    lines += [
        "Each pattern searched alone over the values of one request of each shape, best of "
        "three passes (indicative, not interleaved). All patterns: "
        f"RE2 {costs['total_re2_ms']:,.1f} ms, Python `re` {costs['total_python_re_ms']:,.1f} ms.",
        "",
        "| Pattern | Rule | Bytes | Values | RE2 ms | Python `re` ms | Compiled engine |",
        "|--:|---|--:|--:|--:|--:|---|",
    ]
    for row in costs["top"]:
        python_ms = row["python_re_ms"]
        lines.append(
            f"| {row['pattern']} | {row['rule']} | {row['bytes']:,} | {row['values']} "
            f"| {row['re2_ms']:,.2f} | {'skipped' if python_ms is None else f'{python_ms:,.2f}'} "
            f"| {'RE2 fallback' if row['pattern'] in fallbacks else 'Hyperscan'} |"
        )
    return lines


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Speed and memory of airlock-filters.")
    parser.add_argument("--rounds", type=int, metavar="N", help=f"default {DEFAULT_ROUNDS}")
    parser.add_argument("--quick", action="store_true", help="few rounds, short batches (tests)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where speed.md/.json go")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--memory-probe", metavar="IMPL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Fallback warnings quote whole expressions (some are 100+ KB); the report lists them.
    logging.getLogger("airlock_filters.scanner").setLevel(logging.ERROR)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe)))
        return 0
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    batch_seconds = QUICK_BATCH_SECONDS if args.quick else DEFAULT_BATCH_SECONDS
    result = measure(rounds, batch_seconds)
    markdown = render_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.md").write_text(markdown, encoding="utf-8")
    (args.out / "speed.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    if args.check and not all(t["met"] for t in result["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
