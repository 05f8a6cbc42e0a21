"""What the engine decided about a request, and why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ALLOW = "allow"
BLOCK = "block"
LOG = "log"

DENY_RULES = "DENY_RULES"
LIMITS = "LIMITS"
PARSER = "PARSER"

EXCERPT_CHARS = 48
_SECRET_NAME_RE = re.compile(
    r"pass|pwd|secret|token|auth|session|sid$|key|credential|jwt|bearer|otp|card|cvv|iban|ssn",
    re.I,
)
_SECRET_RUN_RE = re.compile(r"[A-Za-z0-9+/=_\-.]{20,}")


def mask_excerpt(field_name: str, text: str) -> str:
    """A short excerpt that cannot leak a credential into logs."""
    if _SECRET_NAME_RE.search(field_name):
        return f"{text[:2]}***({len(text)} chars)"
    text = _SECRET_RUN_RE.sub(lambda m: m.group()[:4] + "***", text)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 3] + "..."
    return text


@dataclass(slots=True)
class Match:
    rule_key: str
    rule_id: str
    level: str  # level the rule belongs to (Basic/Standard/Strict), "Custom" for custom rules
    mode: str  # Block | LogOnly
    field_type: str  # Header | Parameter | Path | PathSegment | JSON
    field_name: str  # header/parameter name, JSON path, segment index
    excerpt: str
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_key": self.rule_key,
            "rule_id": self.rule_id,
            "level": self.level,
            "mode": self.mode,
            "field_type": self.field_type,
            "field_name": self.field_name,
            "source": self.source,
            "excerpt": self.excerpt,
        }


@dataclass(slots=True)
class Decision:
    action: str
    status: int | None = None
    reason: str | None = None
    matches: list[Match] = field(default_factory=list)
    detail: str = ""  # what the parser or a limit said

    @property
    def blocked(self) -> bool:
        return self.action == BLOCK

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "status": self.status,
            "reason": self.reason,
            "matches": [m.to_json() for m in self.matches],
        }
        if self.detail:
            out["detail"] = self.detail
        return out
