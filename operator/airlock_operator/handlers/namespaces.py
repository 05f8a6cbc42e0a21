"""Namespace watch events into the operator's World."""

from __future__ import annotations

from typing import Any

import kopf

from airlock_operator.handlers.lifecycle import controller


@kopf.on.event("v1", "namespaces")
async def namespace_event(event: kopf.RawEvent, **_: Any) -> None:
    controller().observe("Namespace", event)
