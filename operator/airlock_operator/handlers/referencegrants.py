"""ReferenceGrant watch events into the operator's World."""

from __future__ import annotations

from typing import Any

import kopf

from airlock_operator.handlers.lifecycle import controller


@kopf.on.event("gateway.networking.k8s.io", "v1", "referencegrants")
async def referencegrant_event(event: kopf.RawEvent, **_: Any) -> None:
    controller().observe("ReferenceGrant", event)
