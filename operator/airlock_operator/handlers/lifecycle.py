"""Start and stop of the operator: settings, CA, xDS server, the controller's loops."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import prometheus_client

from airlock_operator.controller import Controller, load_or_create_ca
from airlock_operator.kube import Kube, load_client
from airlock_operator.settings import Settings
from airlock_operator.xds_server import ConfigCache, ServerTls, XdsServer

log = logging.getLogger("airlock_operator")

SETTINGS_ENV = "AIRLOCK_OPERATOR_SETTINGS"  # path of the settings file
KUBECONFIG_ENV = "KUBECONFIG"

PEERING_POLL_SECONDS = 5.0

_controller: Controller | None = None


def outranked(kube: Kube, peering: str, priority: int) -> bool:
    """Whether a live peer of the ClusterKopfPeering has a higher priority (kopf then pauses
    this replica)."""
    try:
        found = kube.get("kopf.dev/v1", "ClusterKopfPeering", peering)
    except Exception as exc:  # unreadable: keep serving rather than leave every engine alone
        log.warning("peering %s unreadable: %s", peering, exc)
        return False
    now = datetime.now(UTC)
    for peer in ((found or {}).get("status") or {}).values():
        try:
            seen = datetime.fromisoformat(str(peer["lastseen"]))
            alive = seen + timedelta(seconds=int(peer.get("lifetime", 60))) > now
            if alive and int(peer["priority"]) > priority:
                return True
        except (KeyError, TypeError, ValueError):
            continue
    return False


def controller() -> Controller:
    assert _controller is not None, "the operator has not started"
    return _controller


@kopf.on.login()
def operator_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # In a pod its service account; elsewhere $KUBECONFIG, read now (the kubernetes client
    # reads it once, at import).
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def operator_startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    global _controller
    settings.posting.level = logging.WARNING
    # One "Handler ... succeeded" line per watch event is noise at thousands of objects.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    path = os.environ.get(SETTINGS_ENV)
    config = Settings.load(path) if path else Settings()
    kube = Kube(load_client(os.environ.get(KUBECONFIG_ENV)))
    ca = await asyncio.to_thread(load_or_create_ca, kube, config)
    cache = ConfigCache()
    server = XdsServer(cache, ServerTls(ca, config))
    _controller = Controller(config, kube, cache, ca, programmed=cache.programmed)
    controller_ = _controller

    peering = settings.peering

    async def serve_while_working() -> None:
        # Only the working replica serves xDS (and so is ready): a paused peer holds no current
        # configuration, and engines must not be balanced onto it. kopf pauses a replica when
        # a live peer has a higher priority; it says so to nobody, so the peering object is
        # read here the same way.
        address = f"{config.xds_listen}:{config.xds_port}"
        serving = False
        while True:
            working = controller_.active.is_set() and (
                peering.standalone
                or not await asyncio.to_thread(outranked, kube, peering.name, peering.priority)
            )
            if working != serving:
                await (server.start(address) if working else server.stop(grace=1.0))
                serving = working
            await asyncio.sleep(PEERING_POLL_SECONDS if controller_.active.is_set() else 0.2)

    loop = asyncio.get_running_loop()
    dirty = _controller.dirty

    def accepted(node: str) -> None:
        # An engine took a configuration: its Gateway may now be Programmed.
        loop.call_soon_threadsafe(dirty.set)

    cache.on_accepted = accepted
    memo.server = server
    if config.metrics_port:
        metrics_server, _thread = prometheus_client.start_http_server(
            config.metrics_port, config.metrics_listen
        )
        memo.metrics = metrics_server
    memo.tasks = [
        asyncio.create_task(_controller.run(), name="reconcile"),
        asyncio.create_task(_controller.renewals(), name="renewals"),
        asyncio.create_task(serve_while_working(), name="xds"),
    ]


@kopf.on.cleanup()
async def operator_cleanup(memo: Any, **_: Any) -> None:
    global _controller
    _controller = None
    for task in getattr(memo, "tasks", []):
        task.cancel()
    metrics = getattr(memo, "metrics", None)
    if metrics is not None:
        metrics.shutdown()
        metrics.server_close()
    server = getattr(memo, "server", None)
    if server is not None:
        await server.stop(grace=1.0)
