"""The running operator: watch events fill a World; one reconcile loop makes the cluster and
the engines match what `reconcile.compute` says.

Events only mark the World dirty; the loop waits a moment for more (a `kubectl apply -f` of
many objects is one pass, not many), computes everything, then
- hands every Gateway's configuration to the xDS cache (engines get it within a second),
- writes the statuses that differ from what the objects show,
- applies each Gateway's Deployment and Service (server-side apply; skipped when unchanged),
- keeps one bootstrap Secret per engine namespace, renewed when due.
A failure of one write is logged and retried on the next pass; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import yaml
from google.protobuf import wrappers_pb2
from kubernetes.client import ApiException
from prometheus_client import Counter, Gauge, Histogram

from airlock_operator import certificates
from airlock_operator.conditions import timestamp
from airlock_operator.kube import Kube
from airlock_operator.reconcile import Engine, Outcome, compute
from airlock_operator.settings import (
    BOOTSTRAP_SECRET,
    CA_SECRET,
    GROUP,
    POLICY_TYPE_URL,
    VERSION,
    Settings,
)
from airlock_operator.workloads import (
    REPLICAS_FIELD_MANAGER,
    build_deployment,
    build_service,
    replicas_claim,
    workload_name,
)
from airlock_operator.world import World, key_of
from airlock_operator.xds_server import (
    CLUSTER_TYPE,
    LISTENER_TYPE,
    ROUTE_TYPE,
    ConfigCache,
    resource_from_dict,
)

log = logging.getLogger("airlock_operator")

RECONCILE_SECONDS = Histogram(
    "airlock_operator_reconcile_seconds",
    "Duration of one reconcile pass (compute, deliver, write)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WRITE_FAILURES = Counter(
    "airlock_operator_api_write_failures", "Writes to the API server that failed (retried)"
)
GATEWAYS = Gauge("airlock_operator_gateways", "Gateways of our GatewayClasses")

GATEWAY_API = "gateway.networking.k8s.io/v1"
API_VERSIONS = {
    "GatewayClass": GATEWAY_API,
    "Gateway": GATEWAY_API,
    "HTTPRoute": GATEWAY_API,
    "ContentSecurityPolicy": f"{GROUP}/{VERSION}",
}
DEBOUNCE_SECONDS = 0.2
STATUS_WRITERS = 8
# The C dumper where PyYAML has it: the same text, several times faster with many policies.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def engine_messages(engine: Engine) -> dict[str, list[Any]]:
    """The xDS resources of one Gateway's engines and sidecars."""
    resources = engine.resources
    policies = (
        yaml.dump_all(engine.documents, Dumper=_DUMPER, sort_keys=True) if engine.documents else ""
    )
    return {
        CLUSTER_TYPE: [resource_from_dict(CLUSTER_TYPE, c) for c in resources.clusters],
        LISTENER_TYPE: [resource_from_dict(LISTENER_TYPE, li) for li in resources.listeners],
        ROUTE_TYPE: [resource_from_dict(ROUTE_TYPE, r) for r in resources.route_configs],
        POLICY_TYPE_URL: [wrappers_pb2.StringValue(value=policies)],
    }


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class Controller:
    def __init__(
        self,
        settings: Settings,
        kube: Kube,
        cache: ConfigCache,
        ca: certificates.CertificateAuthority,
        programmed: Callable[[str], bool] = lambda node: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.cache = cache
        self.ca = ca
        self.programmed = programmed
        self.clock = clock
        self.world = World()
        self.dirty = asyncio.Event()
        # Set by the first pass: this replica is the one working (a paused peer never gets
        # events, so never reconciles).
        self.active = asyncio.Event()
        self.passes = 0
        self._applied: dict[tuple[str, str, str], str] = {}  # workload -> digest applied
        self._writers = ThreadPoolExecutor(STATUS_WRITERS, thread_name_prefix="status")
        self._nodes: set[str] = set()
        self._bootstrap_namespaces: set[str] = set()

    # --- events -----------------------------------------------------------------------------

    def observe(self, kind: str, event: Mapping[str, Any]) -> None:
        body = event.get("object") or {}
        if event.get("type") == "DELETED":
            self.world.remove(kind, key_of(body))
        else:
            self.world.put(kind, body)
        self.dirty.set()

    def forget_workload(self, kind: str, namespace: str, name: str) -> None:
        """A workload of ours was deleted behind our back: apply it again."""
        for workload in [w for w in self._applied if w[0] == kind and w[1] == namespace]:
            if workload_name(workload[2]) == name:
                del self._applied[workload]
                self.dirty.set()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(DEBOUNCE_SECONDS)
            self.dirty.clear()
            try:
                await self.reconcile()
            except Exception:  # the next event or timer tries again
                log.exception("reconcile pass failed")
                await asyncio.sleep(1.0)
                self.dirty.set()

    async def reconcile(self) -> Outcome:
        with RECONCILE_SECONDS.time():
            outcome = compute(self.world, self.programmed, timestamp(self.clock()))
            self.passes += 1
            self.active.set()
            self._deliver(outcome)
            failures = await asyncio.to_thread(self._write, outcome)
        GATEWAYS.set(len(outcome.engines))
        if failures:
            self.dirty.set()  # here, in the loop's thread: asyncio.Event is not thread-safe
        return outcome

    def _deliver(self, outcome: Outcome) -> None:
        for node, engine in outcome.engines.items():
            try:
                self.cache.set(node, engine_messages(engine))
            except Exception as exc:  # one Gateway's bad config must not stop the others
                log.error("configuration of %s not delivered: %s", node, exc)
        for node in self._nodes - set(outcome.engines):
            self.cache.remove(node)
        self._nodes = set(outcome.engines)

    def _write(self, outcome: Outcome) -> int:
        """All writes of a pass; the number that failed (to be retried)."""
        # Statuses are many small independent PATCHes: a few at a time, not one by one.
        results = self._writers.map(
            self._write_status, list(outcome.statuses), list(outcome.statuses.values())
        )
        failures = sum(not ok for ok in results)
        namespaces = set()
        for engine in outcome.engines.values():
            gateway = engine.gateway
            if not gateway.is_accepted:
                continue
            namespaces.add(gateway.namespace)
            failures += not self._apply_workloads(engine)
        for namespace in sorted(namespaces):
            failures += not self._ensure_bootstrap(namespace)
        for namespace in sorted(self._bootstrap_namespaces - namespaces):
            self._guard(
                functools.partial(self.kube.delete, "v1", "Secret", BOOTSTRAP_SECRET, namespace)
            )
        self._bootstrap_namespaces = namespaces
        return failures

    def _guard(self, action: Callable[[], Any]) -> bool:
        try:
            action()
            return True
        except ApiException as exc:
            if exc.status == 404:  # deleted meanwhile: its event follows
                return True
            log.warning("API request failed (%s): %s", exc.status, exc.reason)
            WRITE_FAILURES.inc()
            return False

    def _write_status(self, ref: tuple[str, str, str], status: dict[str, Any]) -> bool:
        kind, namespace, name = ref
        current = self.world.get(kind, namespace, name)
        if current is None:
            return True
        shown = current.get("status") or {}
        if all(shown.get(key) == value for key, value in status.items()):
            return True

        def patch() -> None:
            updated = self.kube.patch_status(
                API_VERSIONS[kind], kind, name, namespace or None, status
            )
            # Seen at once, so the next pass does not write the same again before the watch
            # event arrives; unless an event brought a newer object meanwhile.
            if self.world.get(kind, namespace, name) is current:
                self.world.put(kind, updated)

        return self._guard(patch)

    def _apply_workloads(self, engine: Engine) -> bool:
        gateway = engine.gateway
        parameters = gateway.parameters.filled
        name = workload_name(gateway.name)
        exists = self.world.get("Deployment", gateway.namespace, name) is not None
        deployment = build_deployment(gateway.obj, parameters, self.settings, creating=not exists)
        service = build_service(gateway.obj, parameters)
        ok = True
        for kind, body in (("Deployment", deployment), ("Service", service)):
            workload = (kind, gateway.namespace, gateway.name)
            digest = _digest(body)
            if self._applied.get(workload) == digest:
                continue

            def apply(body: dict[str, Any] = body, kind: str = kind) -> None:
                self.kube.apply(body)
                if kind == "Deployment" and "replicas" in body["spec"]:
                    self.kube.apply(replicas_claim(body), field_manager=REPLICAS_FIELD_MANAGER)

            if self._guard(apply):
                self._applied[workload] = digest
            else:
                ok = False
        return ok

    def _ensure_bootstrap(self, namespace: str) -> bool:
        secret = self.world.get("Secret", namespace, BOOTSTRAP_SECRET)
        if secret is not None:
            try:
                material = certificates.read_bootstrap_secret(secret)
                if not certificates.needs_renewal(
                    material.cert_pem, self.ca, self.settings.renewal_period, self.clock()
                ):
                    return True
            except certificates.CertificateError as exc:
                log.warning("bootstrap secret in %s is unusable, reissued: %s", namespace, exc)

        def issue() -> None:
            leaf = certificates.issue_engine_certificate(
                self.ca, namespace, self.settings.renewal_period, now=self.clock()
            )
            self.world.put(
                "Secret", self.kube.apply(certificates.bootstrap_secret(self.ca, leaf, namespace))
            )
            log.info("bootstrap secret of %s issued", namespace)

        return self._guard(issue)

    async def renewals(self) -> None:
        """Wake the loop often enough that certificates are renewed when due."""
        interval = min(60.0, self.settings.renewal_period.total_seconds() / 10)
        while True:
            await asyncio.sleep(interval)
            self.dirty.set()


def load_or_create_ca(kube: Kube, settings: Settings) -> certificates.CertificateAuthority:
    """The operator's CA from its Secret; created on first start. A second replica starting at
    the same moment loses the create race and reads the winner's."""
    secret = kube.get("v1", "Secret", CA_SECRET, settings.namespace)
    if secret is not None:
        return certificates.CertificateAuthority.from_secret(secret)
    ca = certificates.CertificateAuthority.create()
    body = ca.to_secret(settings.namespace)
    try:
        kube.create(body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        # Another replica created it first: use theirs.
        winner = kube.get("v1", "Secret", CA_SECRET, settings.namespace)
        if winner is None:
            raise
        return certificates.CertificateAuthority.from_secret(winner)
    log.info("CA created in Secret %s/%s", settings.namespace, CA_SECRET)
    return ca
