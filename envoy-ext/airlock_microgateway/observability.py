"""ECS-style JSON logs on stdout and Prometheus metrics of the sidecar.

One log line per blocked or logged request (allowed requests are in Envoy's access log), with
masked excerpts only: query strings, bodies and header values are never logged whole.

Metrics live in prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the
sidecar supervisor before any worker starts), so the supervisor serves the sum of all workers.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from functools import cache
from typing import IO, Any

from airlock_filters import decision as d
from airlock_filters.request import Request

DATASET = "airlock.microgateway.engine"

# Processing time of one request in the sidecar, seconds: 50 us .. 1 s.
_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@cache
def metrics() -> Any:
    """The metric objects, created on first use (after the multiprocess directory is set)."""
    from types import SimpleNamespace

    from prometheus_client import Counter, Histogram

    labels = ["block_type", "block_subtype"]
    return SimpleNamespace(
        blocked=Counter(
            "microgateway_http_downstream_rq_threats_blocked",
            "Requests blocked by the filter engine",
            labels,
        ),
        logged=Counter(
            "microgateway_http_downstream_rq_threats_logged",
            "Requests with threats that were logged only (LogOnly) and passed",
            labels,
        ),
        requests=Counter(
            "microgateway_engine_requests",
            "Requests inspected by the filter engine, by decision",
            ["policy", "action"],
        ),
        processing=Histogram(
            "microgateway_engine_processing_seconds",
            "Time the sidecar spent deciding about one request",
            buckets=_BUCKETS,
        ),
        errors=Counter(
            "microgateway_engine_errors",
            "Streams that failed in the sidecar (Envoy answers them with 5xx: fail closed)",
            ["kind"],
        ),
    )


def block_labels(decision: d.Decision) -> tuple[str, str]:
    """(block_type, block_subtype) of a decision: the reason, and what triggered it."""
    block_type = (decision.reason or "").lower()
    if decision.reason == d.PARSER:
        return block_type, "parser"
    relevant = [m for m in decision.matches if decision.action != d.BLOCK or m.mode == "Block"]
    if decision.reason == d.LIMITS and not relevant:
        return block_type, decision.detail.partition(":")[0] or "limits"
    return block_type, (relevant[0].rule_key.lower() if relevant else "unknown")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Observer:
    """Writes the log line and updates the metrics for each decision."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    def log(self, level: str, message: str, **fields: Any) -> None:
        entry = {"@timestamp": _now(), "log.level": level, "event.dataset": DATASET}
        entry["message"] = message
        entry.update(fields)
        stream = self._stream or sys.stdout
        stream.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        stream.flush()

    def decided(self, request: Request, policy: str, decision: d.Decision, started: float) -> None:
        m = metrics()
        m.processing.observe(time.perf_counter() - started)
        m.requests.labels(policy, decision.action).inc()
        if decision.action == d.ALLOW:
            return
        block_type, block_subtype = block_labels(decision)
        counter = m.blocked if decision.action == d.BLOCK else m.logged
        counter.labels(block_type, block_subtype).inc()
        self.log(
            "warn" if decision.action == d.BLOCK else "info",
            "request blocked" if decision.action == d.BLOCK else "threat logged",
            **{
                "event.action": decision.action,
                "event.reason": decision.reason,
                "http.request.method": request.method,
                "url.path": request.target.partition("?")[0][:1024],
                "http.request.id": request.id,
                "http.response.status_code": decision.status,
                "source.ip": request.remote_ip,
                "airlock.policy": policy,
                "airlock.block_type": block_type,
                "airlock.block_subtype": block_subtype,
                "airlock.detail": decision.detail or None,
                "airlock.deny_rules.matches": [m.to_json() for m in decision.matches],
            },
        )

    def failed(self, kind: str, message: str, **fields: Any) -> None:
        metrics().errors.labels(kind).inc()
        self.log("error", message, **{"error.type": kind, **fields})
