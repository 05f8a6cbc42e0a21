"""EndpointSlice watch events into the operator's World."""

from __future__ import annotations

from typing import Any

import kopf

from airlock_operator.handlers.lifecycle import controller


@kopf.on.event("discovery.k8s.io", "v1", "endpointslices")
async def endpointslice_event(event: kopf.RawEvent, **_: Any) -> None:
    controller().observe("EndpointSlice", event)
