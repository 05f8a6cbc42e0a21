"""Our engine Deployments: the operator must know which exist (an existing one keeps the
replica count an autoscaler gave it), and one deleted by hand is applied again."""

from __future__ import annotations

from typing import Any

import kopf

from airlock_operator.handlers.lifecycle import controller
from airlock_operator.settings import FIELD_MANAGER
from airlock_operator.workloads import MANAGED_BY_LABEL


@kopf.on.event("apps", "v1", "deployments", labels={MANAGED_BY_LABEL: FIELD_MANAGER})
async def deployment_event(
    event: kopf.RawEvent, namespace: str | None, name: str, **_: Any
) -> None:
    controller().observe("Deployment", event)
    if event.get("type") == "DELETED":
        controller().forget_workload("Deployment", namespace or "", name)
