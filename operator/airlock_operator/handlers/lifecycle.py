"""Start and stop of the operator: settings, CA, xDS server, the controller's loops."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf
import prometheus_client

from airlock_operator.controller import Controller, load_or_create_ca
from airlock_operator.kube import Kube, load_client
from airlock_operator.settings import Settings
from airlock_operator.xds_server import ConfigCache, ServerTls, XdsServer

SETTINGS_ENV = "AIRLOCK_OPERATOR_SETTINGS"  # path of the settings file
KUBECONFIG_ENV = "KUBECONFIG"

_controller: Controller | None = None


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

    async def serve_when_active() -> None:
        # Only the working replica serves xDS (and so becomes ready): a paused peer holds no
        # configuration, and engines must not be balanced onto it.
        await controller_.active.wait()
        await server.start(f"{config.xds_listen}:{config.xds_port}")

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
        asyncio.create_task(serve_when_active(), name="xds"),
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
