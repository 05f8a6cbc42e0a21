"""TLS Secret watch events into the operator's World (listener certificates and our own
bootstrap Secrets; no other Secret is kept in memory)."""

from __future__ import annotations

from typing import Any

import kopf

from airlock_operator.handlers.lifecycle import controller


def _tls(body: Any, **_: Any) -> bool:
    return body.get("type") == "kubernetes.io/tls"


@kopf.on.event("v1", "secrets", when=_tls)
async def secret_event(event: kopf.RawEvent, **_: Any) -> None:
    controller().observe("Secret", event)
