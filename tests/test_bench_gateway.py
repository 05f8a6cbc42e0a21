"""Tests of the pure parts of the gateway benchmark (bench/gateway_speed.py).

No load and no timing: the benchmark itself needs wrk, nginx and minutes of quiet cores. These
check that wrk reports become the right numbers, that the ratios and targets are judged as the
report says, that memory is summed over a whole process tree, and that the request files say
what wrk_mix.lua expects.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "bench" / "gateway_speed.py"

WRK_REPORT = """\
Running 15s test @ http://127.0.0.1:41234
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    58.10ms   40.20ms 510.33ms   71.05%
    Req/Sec   279.51     61.70   440.00     68.33%
  Latency Distribution
     50%   54.24ms
     75%   77.80ms
     90%  105.12ms
     99%  210.68ms
  8352 requests in 15.10s, 2.31MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:    553.11
Transfer/sec:    156.68KB
"""

WRK_FAST = """\
Running 3s test @ http://127.0.0.1:41235
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.01ms    6.10ms  80.10ms   95.00%
    Req/Sec     4.60k   500.00     5.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.50ms
     90%    4.00ms
     99%    1.02s
  27500 requests in 3.00s, 4.01MB read
Requests/sec:   9157.33
Transfer/sec:      1.34MB
"""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gateway_speed"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_parse_wrk_report(bench: ModuleType) -> None:
    run = bench.parse_wrk(WRK_REPORT)
    assert run["requests"] == 8352
    assert run["seconds"] == pytest.approx(15.10)
    assert run["rps"] == pytest.approx(553.11)
    assert run["p50_ms"] == pytest.approx(54.24)
    assert run["p90_ms"] == pytest.approx(105.12)
    assert run["p99_ms"] == pytest.approx(210.68)
    assert run["non_2xx"] == 3
    assert run["socket_errors"] == {"connect": 0, "read": 2, "write": 0, "timeout": 5}


def test_parse_wrk_units_and_clean_run(bench: ModuleType) -> None:
    run = bench.parse_wrk(WRK_FAST)
    assert run["p50_ms"] == pytest.approx(0.812)  # microseconds
    assert run["p99_ms"] == pytest.approx(1020.0)  # seconds
    assert run["non_2xx"] == 0  # wrk prints no line for none
    assert run["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}


def test_parse_wrk_rejects_other_output(bench: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a wrk report"):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")
    without_latency = "\n".join(
        line for line in WRK_FAST.splitlines() if "%" not in line or "Req/Sec" in line
    )
    with pytest.raises(ValueError, match="--latency"):
        bench.parse_wrk(without_latency)


def test_ratios_are_medians_of_per_round_ratios(bench: ModuleType) -> None:
    assert bench.median_ratio([100, 300, 50], [200, 300, 500]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        bench.median_ratio([1, 2], [1])  # rounds must pair up


def test_targets_judged(bench: ModuleType) -> None:
    def runs(*rps: float) -> list[dict[str, float]]:
        return [{"rps": value} for value in rps]

    judged = bench.judge_ratios(
        {
            bench.SIDECAR: runs(400, 500, 450),
            bench.PLAIN: runs(1000, 1000, 1000),  # ratios 0.40, 0.50, 0.45: median 0.45
            bench.MODSEC: runs(200, 100, 150),  # ratios 2, 5, 3: median 3
        }
    )
    by_name = {row["name"]: row for row in judged}
    plain = by_name[f"{bench.SIDECAR} / {bench.PLAIN}"]
    modsec = by_name[f"{bench.SIDECAR} / {bench.MODSEC}"]
    assert plain["value"] == pytest.approx(0.45) and plain["target"] == 0.40 and plain["met"]
    assert modsec["value"] == pytest.approx(3.0) and modsec["target"] == 4.0 and not modsec["met"]
    # A target left out of the run is not judged.
    assert len(bench.judge_ratios({bench.SIDECAR: runs(1), bench.PLAIN: runs(2)})) == 1
    # The bare ext_proc server's ratios are reported, not judged.
    with_bare = bench.judge_ratios(
        {bench.SIDECAR: runs(100), bench.PLAIN: runs(1000), bench.BARE: runs(250)}
    )
    ceiling = {row["name"]: row for row in with_bare}
    assert ceiling[f"{bench.BARE} / {bench.PLAIN}"]["value"] == pytest.approx(0.25)
    kept = ceiling[f"{bench.SIDECAR} / {bench.BARE}"]
    assert kept["value"] == pytest.approx(0.4) and kept["target"] is None and kept["met"] is None


def test_bare_extproc_passes_every_phase(bench: ModuleType) -> None:
    spec = importlib.util.spec_from_file_location("bare_extproc", SCRIPT.parent / "bare_extproc.py")
    assert spec is not None and spec.loader is not None
    bare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bare)
    from envoy.service.ext_proc.v3 import external_processor_pb2 as ep

    for phase in ("request_headers", "request_body", "response_headers", "response_body"):
        request = ep.ProcessingRequest()
        getattr(request, phase).SetInParent()
        response = bare.passing(request)
        assert response.WhichOneof("response") == phase
        assert getattr(response, phase).response.status == ep.CommonResponse.CONTINUE


def test_soak_summary(bench: ModuleType) -> None:
    mib = 2**20
    flat = [{"t": t, "rss": 150 * mib, "pss": 80 * mib} for t in range(0, 601, 5)]
    summary = bench.soak_summary(flat, 600)
    assert summary["window_seconds"] == 60
    assert summary["growth"] == pytest.approx(1.0) and summary["met"]
    growing = [{"t": t, "rss": (100 + t // 10) * mib, "pss": 0} for t in range(0, 601, 5)]
    summary = bench.soak_summary(growing, 600)
    assert summary["rss_max"] == 160 * mib
    assert summary["growth"] > bench.RSS_GROWTH_LIMIT and not summary["met"]
    too_big = [{"t": t, "rss": 201 * mib, "pss": 0} for t in range(0, 61, 5)]
    assert not bench.soak_summary(too_big, 60)["met"]


def test_memory_summed_over_the_process_tree(bench: ModuleType) -> None:
    me = os.getpid()
    alone_rss, alone_pss, alone_count = bench.tree_memory(me)
    assert bench.process_tree(me)[0] == me
    assert alone_rss >= bench.vm_rss_bytes(me) > 0
    assert alone_pss > 0
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        # Wait until the child is a Python interpreter, not a fork of this one still exec-ing.
        for _ in range(200):
            cmdline = Path(f"/proc/{child.pid}/cmdline").read_text(errors="replace")
            if "sys.stdin.read" in cmdline:
                break
            time.sleep(0.05)
        assert child.pid in bench.process_tree(me)
        rss, _, count = bench.tree_memory(me)
        assert count == alone_count + 1
        # The sum counts the child too (this process may have grown or shrunk a little).
        assert rss >= bench.vm_rss_bytes(me) + bench.vm_rss_bytes(child.pid) // 2
    finally:
        child.communicate(b"")
    assert bench.vm_rss_bytes(child.pid) == 0  # gone: nothing to count
    assert bench.cpu_seconds(child.pid) == 0.0
    assert bench.cpu_seconds(me) > 0


def test_request_files(bench: ModuleType) -> None:
    mix, attack = bench.build_mix()
    assert [m.name for m in mix] == ["get", "form", "json"]
    get, form, json_post = mix
    assert get.method == "GET" and get.body == b"" and get.target.count("=") >= 3
    assert form.method == "POST" and 900 <= len(form.body) <= 1024
    assert ("Content-Type", "application/x-www-form-urlencoded") in form.headers
    assert json_post.method == "POST" and 3 * 1024 <= len(json_post.body) <= 4096
    assert ("Content-Type", "application/json") in json_post.headers
    assert "%3Cscript%3E" in attack.target
    raw = form.raw()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST " + form.target.encode()
    assert body == form.body
    assert all(name.lower() != "connection" for name, _ in form.headers)  # wrk's business
