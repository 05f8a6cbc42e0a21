"""Status conditions as the Gateway API specifies them (metav1.Condition).

A condition keeps its lastTransitionTime while its status stays the same, so writing the same
computed status twice changes nothing and nothing flaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool | None  # None: Unknown
    reason: str
    message: str = ""

    def render(self, generation: int, now: str) -> dict[str, Any]:
        status = "Unknown" if self.status is None else ("True" if self.status else "False")
        return {
            "type": self.type,
            "status": status,
            "reason": self.reason,
            "message": self.message[:32768],
            "observedGeneration": generation,
            "lastTransitionTime": now,
        }


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(
    previous: list[dict[str, Any]] | None,
    conditions: list[Condition],
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The conditions to write: new ones rendered, each keeping the previous transition time
    when its status did not change."""
    before = {c.get("type"): c for c in previous or []}
    result = []
    for condition in conditions:
        rendered = condition.render(generation, now)
        old = before.get(condition.type)
        if old is not None and old.get("status") == rendered["status"]:
            rendered["lastTransitionTime"] = old.get("lastTransitionTime", now)
        result.append(rendered)
    return result
