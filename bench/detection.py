"""Measure the engine's detection quality at each level.

Two corpora:
- the CRS regression corpus (`<repo>/../shared/corpus/crs-regression.jsonl`, see its README):
  attack tests give the true-positive rate (TPR) per category and paranoia level, and its
  "benign"-labelled tests give a block rate that is reported for information only (many of them
  are deliberately close to attacks);
- our benign corpus (`bench/corpus/benign.jsonl`, made by `bench/make_benign_corpus.py`) gives
  the false-positive rate (FPR).

The engine is used only through its stable command line, once per level:

    python -m airlock_filters inspect --level LEVEL INPUT.jsonl

whose output has one JSON line per input line, in order, with "id" and "action".

A request counts as detected only when its action is "block". "log" does not count: the
built-in policy runs every rule in Block mode, so at the levels measured here a "log" (or an
"error") means the request would have reached the application.

Targets, printed next to the numbers:
    Standard: TPR over CRS PL1-2 attacks (target categories) >= 90%, benign FPR <= 0.5%
    Strict:   TPR over CRS PL1-3 attacks (target categories) >= 95%, benign FPR <= 2%

Exit status: 0, unless --check is given and a target is missed (1), or the engine could not be
run at all (2).

Usage:
    python bench/detection.py                       # all levels
    python bench/detection.py --levels Standard --show-fp 20 --show-misses 5
    python bench/detection.py --check --json bench/results/detection.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRS = REPO_ROOT.parent / "shared" / "corpus" / "crs-regression.jsonl"
DEFAULT_BENIGN = REPO_ROOT / "bench" / "corpus" / "benign.jsonl"

LEVELS = ["Basic", "Standard", "Strict"]
TARGET_CATEGORIES = [
    "sqli",
    "xss",
    "rce",
    "php",
    "java",
    "nodejs",
    "path-traversal",
    "rfi",
    "ssrf",
    "ssti",
    "generic",
    "session-fixation",
    "prototype-pollution",
]
OTHER_CATEGORIES = ["protocol", "scanner"]
PL12 = (1, 2)
PL13 = (1, 2, 3)


@dataclass(frozen=True)
class Target:
    level: str
    metric: str  # key into a level summary: "tpr_pl12", "tpr_pl13" or "fpr"
    op: str  # ">=" or "<="
    value: float

    def met(self, rate: float | None) -> bool:
        if rate is None:
            return False
        return rate >= self.value if self.op == ">=" else rate <= self.value

    def describe(self) -> str:
        return f"target {self.op} {percent(self.value)}"


TARGETS = [
    Target("Standard", "tpr_pl12", ">=", 0.90),
    Target("Standard", "fpr", "<=", 0.005),
    Target("Strict", "tpr_pl13", ">=", 0.95),
    Target("Strict", "fpr", "<=", 0.02),
]


class EngineError(Exception):
    """The engine could not be run, or its output does not match its input."""


@dataclass
class Tally:
    total: int = 0
    hits: int = 0

    def add(self, hit: bool) -> None:
        self.total += 1
        self.hits += int(hit)

    @property
    def rate(self) -> float | None:
        return self.hits / self.total if self.total else None

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "hits": self.hits, "rate": self.rate}


@dataclass
class Result:
    """One input request together with the engine's verdict on it."""

    request: dict[str, Any]
    output: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.request["id"])

    @property
    def category(self) -> str:
        return str(self.request.get("category", "unknown"))

    @property
    def paranoia(self) -> int | None:
        level = self.request.get("paranoia_level")
        return level if isinstance(level, int) else None

    @property
    def blocked(self) -> bool:
        return self.output.get("action") == "block"

    @property
    def rule_keys(self) -> list[str]:
        keys = [str(m.get("rule_key")) for m in self.output.get("matches") or []]
        return list(dict.fromkeys(keys))


@dataclass
class LevelReport:
    level: str
    tpr_pl12: dict[str, Tally] = field(default_factory=dict)
    tpr_pl13: dict[str, Tally] = field(default_factory=dict)
    other_pl12: dict[str, Tally] = field(default_factory=dict)
    other_pl13: dict[str, Tally] = field(default_factory=dict)
    crs_benign: dict[str, Tally] = field(default_factory=dict)
    fpr: dict[str, Tally] = field(default_factory=dict)
    false_positives: list[Result] = field(default_factory=list)
    misses: dict[str, list[Result]] = field(default_factory=dict)
    errors: int = 0

    def overall(self, metric: str) -> Tally:
        """The micro-average of one per-category metric."""
        tallies: dict[str, Tally] = getattr(self, metric)
        total = Tally()
        for tally in tallies.values():
            total.total += tally.total
            total.hits += tally.hits
        return total


# --- running the engine -----------------------------------------------------------------------


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def inspect_command(level: str, input_path: Path, policies: Sequence[Path]) -> list[str]:
    command = [sys.executable, "-m", "airlock_filters", "inspect"]
    for policy in policies:
        command += ["--policy", str(policy)]
    return [*command, "--level", level, str(input_path)]


def run_inspect(
    level: str, input_path: Path, requests: Sequence[dict[str, Any]], policies: Sequence[Path]
) -> list[Result]:
    """Run the engine on one input file and pair every request with its output line."""
    command = inspect_command(level, input_path, policies)
    # The exit status is not used: the output lines are the contract, and an inspect that
    # signals blocked requests through its status would otherwise look like a failure.
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if len(lines) != len(requests):
        raise EngineError(
            f"{' '.join(command)} exited {completed.returncode} with {len(lines)} output lines "
            f"for {len(requests)} requests\n{completed.stderr.strip()[-2000:]}"
        )
    results = []
    for request, line in zip(requests, lines, strict=True):
        output = json.loads(line)
        if output.get("id") != request["id"]:
            raise EngineError(f"output id {output.get('id')!r} where {request['id']!r} was due")
        results.append(Result(request, output))
    return results


# --- measuring --------------------------------------------------------------------------------


def tally_by_category(
    results: Iterable[Result], categories: Sequence[str], paranoia: Sequence[int] | None
) -> dict[str, Tally]:
    """Block counts per category, for requests whose paranoia level is in `paranoia`."""
    tallies = {category: Tally() for category in categories}
    for result in results:
        if result.category not in tallies:
            continue
        if paranoia is not None and result.paranoia not in paranoia:
            continue
        tallies[result.category].add(result.blocked)
    return tallies


def categories_of(results: Iterable[Result]) -> list[str]:
    return sorted({result.category for result in results})


def missed_attacks(attacks: Iterable[Result], limit: int) -> dict[str, list[Result]]:
    """Up to `limit` unblocked PL1-3 attacks per category, lowest paranoia level first."""
    misses: dict[str, list[Result]] = {}
    if limit <= 0:
        return misses
    candidates = [r for r in attacks if not r.blocked and r.paranoia in PL13]
    candidates.sort(key=lambda r: (r.paranoia or 0, r.id))
    for result in candidates:
        bucket = misses.setdefault(result.category, [])
        if len(bucket) < limit:
            bucket.append(result)
    return misses


def measure_level(
    level: str, crs: Sequence[Result], benign: Sequence[Result], show_fp: int, show_misses: int
) -> LevelReport:
    attacks = [r for r in crs if r.request.get("label") == "attack"]
    crs_benign = [r for r in crs if r.request.get("label") == "benign"]
    false_positives = [r for r in benign if r.blocked]
    return LevelReport(
        level=level,
        tpr_pl12=tally_by_category(attacks, TARGET_CATEGORIES, PL12),
        tpr_pl13=tally_by_category(attacks, TARGET_CATEGORIES, PL13),
        other_pl12=tally_by_category(attacks, OTHER_CATEGORIES, PL12),
        other_pl13=tally_by_category(attacks, OTHER_CATEGORIES, PL13),
        crs_benign=tally_by_category(crs_benign, categories_of(crs_benign), None),
        fpr=tally_by_category(benign, categories_of(benign), None),
        false_positives=false_positives[:show_fp],
        misses=missed_attacks(attacks, show_misses),
        errors=sum(1 for r in [*crs, *benign] if "error" in r.output),
    )


def target_results(report: LevelReport) -> list[tuple[Target, float | None, bool]]:
    results = []
    for target in TARGETS:
        if target.level == report.level:
            rate = report.overall(target.metric).rate
            results.append((target, rate, target.met(rate)))
    return results


# --- printing ---------------------------------------------------------------------------------


def percent(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    digits = 2 if rate < 0.1 else 1
    return f"{rate * 100:.{digits}f}%"


def cell(tally: Tally) -> str:
    return f"{tally.hits:>5}/{tally.total:<5} {percent(tally.rate):>7}"


def target_note(report: LevelReport, metric: str) -> str:
    notes = [
        f"  ({target.describe()}: {'OK' if met else 'MISSED'})"
        for target, _, met in target_results(report)
        if target.metric == metric
    ]
    return "".join(notes)


def print_two_bands(
    title: str,
    pl12: dict[str, Tally],
    pl13: dict[str, Tally],
    overall: tuple[Tally, Tally] | None,
    notes: str = "",
) -> None:
    print(f"  {title:<28} {'PL1-2':>19} {'PL1-3':>19}")
    for category in pl12:
        print(f"    {category:<26} {cell(pl12[category]):>19} {cell(pl13[category]):>19}")
    if overall is not None:
        print(f"    {'overall':<26} {cell(overall[0]):>19} {cell(overall[1]):>19}{notes}")


def print_rates(title: str, tallies: dict[str, Tally], overall: Tally, notes: str = "") -> None:
    print(f"  {title}: {overall.hits}/{overall.total} {percent(overall.rate)}{notes}")
    for category, tally in tallies.items():
        print(f"    {category:<26} {cell(tally):>19}")


def print_level(report: LevelReport) -> None:
    print(f"\n=== Level {report.level} ===")
    notes = target_note(report, "tpr_pl12") + target_note(report, "tpr_pl13")
    overall = (report.overall("tpr_pl12"), report.overall("tpr_pl13"))
    print_two_bands("CRS attacks, blocked", report.tpr_pl12, report.tpr_pl13, overall, notes)
    print_two_bands("Other CRS attacks, blocked", report.other_pl12, report.other_pl13, None)
    print_rates(
        "CRS benign-labelled tests blocked (information only)",
        report.crs_benign,
        report.overall("crs_benign"),
    )
    print_rates(
        "Benign corpus false positives",
        report.fpr,
        report.overall("fpr"),
        target_note(report, "fpr"),
    )
    if report.errors:
        print(f"  Requests the engine answered with an error: {report.errors}")
    if report.false_positives:
        print(f"  False positives (first {len(report.false_positives)}):")
        for result in report.false_positives:
            print(f"    {result.id}: {', '.join(result.rule_keys) or '(no rule key)'}")
    for category in [*TARGET_CATEGORIES, *OTHER_CATEGORIES]:
        misses = report.misses.get(category, [])
        if not misses:
            continue
        listed = ", ".join(f"{r.id} (PL{r.paranoia})" for r in misses)
        print(f"  Missed {category}: {listed}")


# --- JSON -------------------------------------------------------------------------------------


def tallies_json(tallies: dict[str, Tally], overall: Tally) -> dict[str, Any]:
    return {
        "overall": overall.as_json(),
        "by_category": {name: tally.as_json() for name, tally in tallies.items()},
    }


def report_json(report: LevelReport) -> dict[str, Any]:
    return {
        "tpr_pl12": tallies_json(report.tpr_pl12, report.overall("tpr_pl12")),
        "tpr_pl13": tallies_json(report.tpr_pl13, report.overall("tpr_pl13")),
        "other_pl12": tallies_json(report.other_pl12, report.overall("other_pl12")),
        "other_pl13": tallies_json(report.other_pl13, report.overall("other_pl13")),
        "crs_benign_block_rate": tallies_json(report.crs_benign, report.overall("crs_benign")),
        "fpr": tallies_json(report.fpr, report.overall("fpr")),
        "errors": report.errors,
        "false_positives": [{"id": r.id, "rule_keys": r.rule_keys} for r in report.false_positives],
        "misses": {
            category: [{"id": r.id, "paranoia_level": r.paranoia} for r in misses]
            for category, misses in report.misses.items()
        },
        "targets": [
            {"metric": t.metric, "op": t.op, "target": t.value, "value": rate, "met": met}
            for t, rate, met in target_results(report)
        ],
    }


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Detection quality of airlock-filters.")
    parser.add_argument("--crs", type=Path, default=DEFAULT_CRS, help="CRS regression JSONL")
    parser.add_argument("--benign", type=Path, default=DEFAULT_BENIGN, help="benign JSONL")
    parser.add_argument("--levels", nargs="+", choices=LEVELS, default=LEVELS)
    parser.add_argument(
        "--policy",
        type=Path,
        action="append",
        default=[],
        help="passed on to inspect (repeatable); by default the built-in policy",
    )
    parser.add_argument("--show-fp", type=int, default=10, metavar="N", help="list N FP ids")
    parser.add_argument(
        "--show-misses", type=int, default=0, metavar="N", help="list N missed ids per category"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    crs_requests = load_jsonl(args.crs)
    benign_requests = load_jsonl(args.benign)
    requests = crs_requests + benign_requests
    reports: list[LevelReport] = []
    with tempfile.TemporaryDirectory(prefix="airlock-detection-") as tmp:
        # One input file for both corpora, so the engine starts once per level.
        input_path = Path(tmp) / "requests.jsonl"
        write_jsonl(input_path, requests)
        for level in args.levels:
            try:
                results = run_inspect(level, input_path, requests, args.policy)
            except EngineError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            crs, benign = results[: len(crs_requests)], results[len(crs_requests) :]
            report = measure_level(level, crs, benign, args.show_fp, args.show_misses)
            print_level(report)
            reports.append(report)

    missed = [
        (report.level, target, rate)
        for report in reports
        for target, rate, met in target_results(report)
        if not met
    ]
    print("\nTargets: " + ("all met" if not missed else f"{len(missed)} missed"))
    for level, target, rate in missed:
        print(f"  MISSED {level} {target.metric} = {percent(rate)}, {target.describe()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "crs": str(args.crs),
            "benign": str(args.benign),
            "levels": {report.level: report_json(report) for report in reports},
            "all_targets_met": not missed,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
