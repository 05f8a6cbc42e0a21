"""Watch events of our microgateway.airlock.com resources into the operator's World."""

from __future__ import annotations

from typing import Any

import kopf

from airlock_operator.handlers.lifecycle import controller
from airlock_operator.settings import GROUP, VERSION

KINDS = {
    "contentsecuritypolicies": "ContentSecurityPolicy",
    "denyrules": "DenyRules",
    "limits": "Limits",
    "parsers": "Parser",
    "headerrewrites": "HeaderRewrites",
    "gatewayparameters": "GatewayParameters",
}


def _observer(kind: str) -> Any:
    async def policy_event(event: kopf.RawEvent, **_: Any) -> None:
        controller().observe(kind, event)

    policy_event.__name__ = f"{kind.lower()}_event"
    return policy_event


for _plural, _kind in KINDS.items():
    kopf.on.event(GROUP, VERSION, _plural, id=f"{_kind.lower()}_event")(_observer(_kind))
