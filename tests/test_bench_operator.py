"""Tests of the operator scale benchmark (bench/operator_scale.py): its pure parts, and one
small run end to end (control plane, operator process, real Envoy) whose result must say that
every route was accepted and delivered. No timing is judged here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "bench" / "operator_scale.py"
CONTROLLER = "microgateway.airlock.com/gatewayclass-controller"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operator_scale", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["operator_scale"] = module
    spec.loader.exec_module(module)
    return module


def envoy_route(name: str, policy: str | None) -> dict[str, Any]:
    per_route: dict[str, Any] = {"@type": "type.googleapis.com/...ExtProcPerRoute"}
    if policy is None:
        per_route["disabled"] = True
    else:
        per_route["overrides"] = {"grpc_initial_metadata": [{"key": "x", "value": policy}]}
    return {"name": name, "typed_per_filter_config": {"envoy.filters.http.ext_proc": per_route}}


def test_delivered_routes_need_their_own_policy(bench: ModuleType) -> None:
    dump = {
        "configs": [
            {
                "route_config": {
                    "virtual_hosts": [
                        {
                            "routes": [
                                envoy_route("ns/route-1/rule-0/match-0", "ns.policy-1"),
                                envoy_route("ns/route-2/rule-0/match-0", "ns.policy-2"),
                                envoy_route("ns/route-3/rule-0/match-0", "default"),
                                envoy_route("ns/route-4/rule-0/match-0", None),
                                envoy_route("ns/route-5/rule-0/match-0", "ns.policy-6"),
                                envoy_route("other/route-1/rule-0/match-0", "other.policy-1"),
                            ]
                        },
                        {"routes": [envoy_route("ns/route-7/rule-0/match-0", "ns.policy-7")]},
                    ]
                }
            },
            {"route_config": {"name": "empty"}},
        ]
    }
    assert bench.delivered_routes(dump, "ns") == 3
    assert bench.delivered_routes(dump, "other") == 1
    assert bench.delivered_routes({}, "ns") == 0


def test_statuses_read(bench: ModuleType) -> None:
    def parent(status: str, controller: str = CONTROLLER) -> dict[str, Any]:
        return {
            "parentRef": {"name": "gw", "namespace": bench.GATEWAY_NAMESPACE},
            "controllerName": controller,
            "conditions": [{"type": "Accepted", "status": status}],
        }

    assert bench.route_accepted({"status": {"parents": [parent("True")]}})
    assert not bench.route_accepted({"status": {"parents": [parent("False")]}})
    assert not bench.route_accepted({"status": {"parents": [parent("True", "someone/else")]}})
    assert not bench.route_accepted({})
    accepted = {"conditions": [{"type": "Accepted", "status": "True"}]}
    refused = {"conditions": [{"type": "Accepted", "status": "False"}]}
    assert bench.policy_accepted({"status": {"ancestors": [accepted]}})
    assert not bench.policy_accepted({"status": {"ancestors": [accepted, refused]}})
    assert not bench.policy_accepted({"status": {"ancestors": []}})


def test_linearity_and_target_judged(bench: ModuleType) -> None:
    def run(routes: int, seconds: float | None, cpu: float = 1.0) -> dict[str, Any]:
        per_route = seconds / routes if seconds is not None else None
        return {
            "routes": routes,
            "delivered_seconds": seconds,
            "seconds_per_route": per_route,
            "operator_cpu_seconds": cpu,
        }

    judged = bench.judge([run(10, 0.5), run(100, 2.0, 2.0), run(1000, 40.0, 40.0)])
    small, big = judged["linearity"]
    assert (small["from"], small["to"]) == (10, 100)
    assert small["ratio"] == pytest.approx(0.4) and small["met"]
    assert small["cpu_ratio"] == pytest.approx(0.2)
    # The operator's CPU is judged: 10x routes, 20x CPU is a miss.
    assert big["cpu_ratio"] == pytest.approx(2.0) and not big["met"]
    assert big["ratio"] == pytest.approx(2.0)
    # 20x time alone (the script creating objects, the machine) is reported, not judged.
    assert bench.judge([run(100, 2.0, 2.0), run(1000, 40.0, 20.0)])["linearity"][0]["met"]
    assert judged["target"] == {"routes": 1000, "seconds": 40.0, "limit": 60.0, "met": True}
    assert bench.missed(judged) == [big]

    # A size run again (for memory) is judged once, by its first run; a miss is a miss.
    judged = bench.judge([run(100, 2.0), run(1000, None), run(1000, 10.0)])
    (only,) = judged["linearity"]
    assert only["ratio"] is None and not only["met"]
    assert not judged["target"]["met"]
    assert bench.judge([run(5, 1.0)]) == {"linearity": [], "target": None}


def test_tracker_keeps_when_each_count_was_first_reached(bench: ModuleType) -> None:
    class Counting(bench.Tracker):
        def run(self) -> None:
            for count in (0, 1, 1, 3, 2, 3):
                self.record(count)

    tracker = Counting()
    tracker.begin(0.0)
    tracker.stop()
    assert tracker.error is None
    assert [c for _, c in tracker.progress] == [1, 3, 2, 3]  # changes only
    assert tracker.count == 3
    assert tracker.reached(2) == tracker.progress[1][0]  # 3 >= 2 came first
    assert tracker.reached(4) is None

    class Failing(bench.Tracker):
        def run(self) -> None:
            raise RuntimeError("gone")

    failing = Failing()
    failing.begin(0.0)
    failing.stop()
    assert isinstance(failing.error, RuntimeError)


def test_reconcile_totals_from_prometheus_text(bench: ModuleType) -> None:
    text = "\n".join(
        [
            "# HELP airlock_operator_reconcile_seconds Duration of one reconcile pass",
            'airlock_operator_reconcile_seconds_bucket{le="0.01"} 3.0',
            "airlock_operator_reconcile_seconds_count 7.0",
            "airlock_operator_reconcile_seconds_sum 12.5",
            "airlock_operator_reconcile_seconds_created 1.7e+09",
        ]
    )
    assert bench.reconcile_totals(text) == (7, 12.5)
    assert bench.reconcile_totals("") == (0, 0.0)


def test_small_run_end_to_end(tmp_path: Path) -> None:
    """Two sizes against a real control plane, operator and Envoy: the result says every route
    was accepted and reached the engine with its policy, and the report files are written."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "2,5", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "operator_scale.json").read_text())
    assert [run["routes"] for run in result["runs"]] == [2, 5]
    for run in result["runs"]:
        for key in (
            "apply_seconds",
            "accepted_seconds",
            "policies_accepted_seconds",
            "delivered_seconds",
            "settled_seconds",
            "removed_seconds",
        ):
            assert run[key] is not None and run[key] >= 0, key
        routes = run["routes"]
        assert run["progress"]["accepted"][-1][1] == routes
        assert run["progress"]["policies_accepted"][-1][1] == routes
        assert run["progress"]["delivered"][-1][1] == routes
        assert run["engine_route_updates"] >= 1
        assert run["reconcile_passes"] >= 1
        assert run["operator_cpu_seconds"] > 0
        for key in ("rss_before", "rss_peak", "rss_settled", "rss_after_removal"):
            assert run[key] > 0, key
        assert run["rss_peak"] >= run["rss_before"]
    assert [(row["from"], row["to"]) for row in result["linearity"]] == [(2, 5)]
    assert result["target"] is None  # 1000 routes were not asked for
    assert result["memory"] and all(rss > 0 for _, rss in result["memory"])
    markdown = (tmp_path / "operator_scale.md").read_text()
    assert "| 5 |" in markdown
    assert (tmp_path / "operator_scale.png").stat().st_size > 0
