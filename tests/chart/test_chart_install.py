"""`helm install` into the real control plane of tests/k8s: every object accepted by the API
server, the pods admitted under the restricted Pod Security level, and the operator, started
from the chart's own Deployment (command, args, settings ConfigMap, env) with a token of the
chart's ServiceAccount, reconciling Gateway API resources - so a missing RBAC rule fails here.
`helm test` runs too, its pod completed by a stand-in for the kubelet (local_pod.py: this
control plane has no kubelet, pods never run). Without the Gateway API CRDs the install stops
before it creates anything of the release."""

from __future__ import annotations

import contextlib
import functools
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from chart_helm import CHART, Helm, Manifest, api_path
from k8s.controlplane import ControlPlane, wait_for
from local_pod import OperatorProcess, TestPodRunner, ok

from airlock_microgateway.gateway import free_port
from airlock_operator.settings import BOOTSTRAP_SECRET, CA_SECRET, CONTROLLER_NAME
from airlock_operator.workloads import workload_name

GW = "/apis/gateway.networking.k8s.io/v1"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}


@dataclass
class Release:
    helm: Helm
    name: str
    namespace: str
    values: dict[str, Any]
    output: str  # what `helm install` printed
    manifest: Manifest
    hooks: Manifest

    @property
    def deployment(self) -> str:
        return str(self.manifest.one("Deployment")["metadata"]["name"])

    @property
    def gateway_class(self) -> str:
        return str(self.values["gatewayClass"]["name"])


@contextlib.contextmanager
def installed(
    cp: ControlPlane, helm: Helm, name: str, values: dict[str, Any] | None = None
) -> Iterator[Release]:
    namespace = cp.new_namespace(f"chart-{name}")
    # The chart's pods must pass the restricted Pod Security level: enforced on pods, warned
    # about (in helm's output) for the Deployment's pod template.
    ok(
        cp.api.patch(
            f"/api/v1/namespaces/{namespace}",
            headers={"Content-Type": "application/merge-patch+json"},
            json={"metadata": {"labels": RESTRICTED}},
        ),
        "label namespace",
    )
    values = {
        "gatewayClass": {"name": f"airlock-{namespace}"},
        # Free ports: the operator will run on this host, beside whatever else runs here.
        "xds": {"port": free_port()},
        "metrics": {"port": free_port()},
        "health": {"port": free_port()},
        **(values or {}),
    }
    result = helm.install(name, namespace, values)
    try:
        yield Release(
            helm,
            name,
            namespace,
            values,
            result.stdout + result.stderr,
            Manifest.parse(helm.run("get", "manifest", name, "-n", namespace).stdout),
            Manifest.parse(helm.run("get", "hooks", name, "-n", namespace).stdout),
        )
    finally:
        helm.run("uninstall", name, "-n", namespace, check=False)
        cp.delete_namespace(namespace)


@pytest.fixture(scope="module")
def cluster_helm(
    control_plane: ControlPlane, k8s_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Helm:
    return Helm(k8s_bin_dir / "helm", tmp_path_factory.mktemp("helm"), control_plane.kubeconfig)


@pytest.fixture(scope="module")
def release(control_plane: ControlPlane, cluster_helm: Helm) -> Iterator[Release]:
    with installed(control_plane, cluster_helm, "waf") as release:
        yield release


def get(cp: ControlPlane, path: str) -> dict[str, Any] | None:
    response = cp.api.get(path)
    return response.json() if response.status_code == 200 else None


def gone(cp: ControlPlane, path: str) -> bool:
    return cp.api.get(path).status_code == 404


def condition(obj: dict[str, Any] | None, kind: str, parent: int | None = None) -> str | None:
    status = (obj or {}).get("status") or {}
    if parent is not None:
        status = (status.get("parents") or [{}] * (parent + 1))[parent]
    found = [c for c in status.get("conditions") or [] if c["type"] == kind]
    return found[0]["status"] if found else None


# --- what the install created -------------------------------------------------------------------


def test_every_object_is_accepted_by_the_api_server(
    control_plane: ControlPlane, release: Release
) -> None:
    assert release.manifest.kinds() >= {"Deployment", "ClusterRole", "GatewayClass", "ConfigMap"}
    for doc in release.manifest.docs:
        stored = get(control_plane, api_path(doc))
        assert stored is not None, f"{doc['kind']} {doc['metadata']['name']} is not stored"
        assert stored["metadata"]["labels"] == doc["metadata"]["labels"]
    # crds/: our kinds and kopf's, all served.
    for path in sorted((CHART / "crds").glob("*.yaml")):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        crd = get(control_plane, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        assert condition(crd, "Established") == "True", name
    # The `helm test` pod is a hook: stored with the release, created only by `helm test`.
    (pod,) = release.hooks.all("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert get(control_plane, api_path(pod)) is None
    # NOTES.txt, with this release's names.
    assert f"kubectl get gatewayclass {release.gateway_class}" in release.output
    assert f"deployment/{release.deployment}" in release.output


def test_pods_pass_the_restricted_pod_security_level(
    control_plane: ControlPlane, release: Release
) -> None:
    assert "violate PodSecurity" not in release.output
    # No kubelet, but the controller manager's ReplicaSet controller creates the pods: the API
    # server admits them only if they are restricted.
    selector = release.manifest.one("Deployment")["spec"]["selector"]["matchLabels"]
    label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
    pods = wait_for(
        lambda: ok(
            control_plane.api.get(
                f"/api/v1/namespaces/{release.namespace}/pods",
                params={"labelSelector": label_selector},
            ),
            "pods",
        )["items"],
        "an operator pod created by the ReplicaSet controller",
    )
    assert pods[0]["spec"]["securityContext"]["runAsNonRoot"] is True


def _allowed(
    cp: ControlPlane, release: Release, verb: str, resource: str, namespace: str = "", **attrs: str
) -> bool:
    """The API server's answer (SubjectAccessReview) for the chart's ServiceAccount; `resource`
    as `[group.]plural[/subresource]`, e.g. `secrets`, `apps.deployments`."""
    group, _, resource = resource.rpartition(".") if "." in resource else ("", "", resource)
    resource, _, subresource = resource.partition("/")
    account = release.manifest.one("ServiceAccount")["metadata"]["name"]
    review = ok(
        cp.api.post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            json={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": f"system:serviceaccount:{release.namespace}:{account}",
                    "groups": [
                        "system:serviceaccounts",
                        f"system:serviceaccounts:{release.namespace}",
                        "system:authenticated",
                    ],
                    "resourceAttributes": {
                        "verb": verb,
                        "group": group,
                        "resource": resource,
                        "subresource": subresource,
                        "namespace": namespace,
                        **attrs,
                    },
                },
            },
        ),
        "SubjectAccessReview",
    )
    return bool(review["status"].get("allowed"))


def test_service_account_may_do_no_more_than_the_operator_needs(
    control_plane: ControlPlane, release: Release
) -> None:
    """The API server's own answer for the chart's ServiceAccount (the operator run below shows
    that what is allowed is enough)."""
    ns, other = release.namespace, "default"

    def can(verb: str, resource: str, namespace: str = "", **attrs: str) -> bool:
        return _allowed(control_plane, release, verb, resource, namespace, **attrs)

    assert can("get", "secrets", ns, name=CA_SECRET)
    assert can("create", "secrets", ns)
    assert can("list", "secrets")
    assert can("patch", "secrets", other, name=BOOTSTRAP_SECRET)
    assert can("create", "secrets", other, name=BOOTSTRAP_SECRET)  # server-side apply creating
    assert can("delete", "secrets", other, name=BOOTSTRAP_SECRET)
    assert can("patch", "gateway.networking.k8s.io.gateways/status", other, name="gw")
    assert can("patch", "apps.deployments", other, name="gw")
    assert can("create", "events", other)

    assert not can("get", "secrets", other, name=CA_SECRET)
    assert not can("get", "secrets", ns, name="someone-elses")
    assert not can("create", "secrets", other)
    assert not can("create", "secrets", other, name="someone-elses")
    assert not can("patch", "secrets", other, name="someone-elses")
    assert not can("delete", "secrets", other, name="someone-elses")
    assert not can("patch", "gateway.networking.k8s.io.gateways", other, name="gw")
    assert not can("update", "gateway.networking.k8s.io.gateways/status", other, name="gw")
    assert not can("delete", "apps.deployments", other, name="gw")
    assert not can("create", "pods", other)
    assert not can("list", "configmaps")
    assert not can("create", "apiextensions.k8s.io.customresourcedefinitions")
    # One replica: no peering rights.
    assert not can("patch", "kopf.dev.clusterkopfpeerings", name=release.deployment)


# --- the operator as the chart runs it ----------------------------------------------------------


def _apply_app(cp: ControlPlane, namespace: str, gateway_class: str) -> None:
    objects = [
        (
            f"{GW}/namespaces/{namespace}/gateways",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "gw"},
                "spec": {
                    "gatewayClassName": gateway_class,
                    "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}],
                },
            },
        ),
        (
            f"/api/v1/namespaces/{namespace}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "backend"},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            },
        ),
        (
            f"{GW}/namespaces/{namespace}/httproutes",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "web"},
                "spec": {
                    "parentRefs": [{"name": "gw"}],
                    "rules": [{"backendRefs": [{"name": "backend", "port": 80}]}],
                },
            },
        ),
    ]
    for path, body in objects:
        ok(cp.api.post(path, json=body), f"create {body['kind']}")


def test_operator_from_the_chart_reconciles_with_its_service_account(
    control_plane: ControlPlane, release: Release, tmp_path: Path
) -> None:
    cp, app = control_plane, control_plane.new_namespace("chart-app")
    operator = OperatorProcess(cp, release.namespace, release.deployment, tmp_path, "waf-0")
    with operator:
        operator.wait_until(lambda: operator.probe("livenessProbe"), "liveness probe")
        operator.wait_until(lambda: operator.probe("readinessProbe"), "readiness probe")
        assert get(cp, f"/api/v1/namespaces/{release.namespace}/secrets/{CA_SECRET}")

        _apply_app(cp, app, release.gateway_class)
        operator.wait_until(
            lambda: (
                condition(get(cp, f"{GW}/gatewayclasses/{release.gateway_class}"), "Accepted")
                == "True"
            ),
            "the chart's GatewayClass Accepted",
        )
        operator.wait_until(
            lambda: condition(get(cp, f"{GW}/namespaces/{app}/gateways/gw"), "Accepted") == "True",
            "Gateway Accepted",
        )
        route = f"{GW}/namespaces/{app}/httproutes/web"
        operator.wait_until(
            lambda: condition(get(cp, route), "Accepted", parent=0) == "True",
            "HTTPRoute Accepted",
        )
        assert condition(get(cp, route), "ResolvedRefs", parent=0) == "True"
        # The engine's workloads and certificates: server-side apply of each.
        name = workload_name("gw")
        for path in (
            f"/apis/apps/v1/namespaces/{app}/deployments/{name}",
            f"/api/v1/namespaces/{app}/services/{name}",
            f"/api/v1/namespaces/{app}/secrets/{BOOTSTRAP_SECRET}",
        ):
            operator.wait_until(lambda path=path: get(cp, path), f"{path} applied")
        metrics = httpx.get(f"http://127.0.0.1:{operator.port('metrics')}/metrics", timeout=10)
        assert "airlock_operator_reconcile_seconds_count" in metrics.text

        # `helm test`: its pod asks the metrics Service, answered by this operator.
        with TestPodRunner(cp, release.namespace) as kubelet:
            result = release.helm.run("test", release.name, "-n", release.namespace)
        assert "Phase:          Succeeded" in result.stdout
        assert [r.returncode for r in kubelet.results.values()] == [0]

        # No Gateway left in the namespace: its bootstrap Secret is deleted.
        ok(cp.api.delete(f"{GW}/namespaces/{app}/gateways/gw"), "delete Gateway")
        operator.wait_until(
            lambda: get(cp, f"/api/v1/namespaces/{app}/secrets/{BOOTSTRAP_SECRET}") is None,
            "bootstrap Secret deleted",
        )
        log = operator.log()
    cp.delete_namespace(app)
    # Nothing was refused (kopf falls back quietly on some refusals: it says so in its log).
    for refused in ("Forbidden", "Not enough permissions"):
        assert refused not in log, log

    # The operator is gone: the same `helm test` fails.
    with TestPodRunner(cp, release.namespace) as kubelet:
        failed = release.helm.run("test", release.name, "-n", release.namespace, check=False)
    assert failed.returncode != 0
    assert "failed" in failed.stderr
    assert [r.returncode != 0 for r in kubelet.results.values()] == [True]


def test_replicas_run_the_operator_with_kopf_peering(
    control_plane: ControlPlane, cluster_helm: Helm, tmp_path: Path
) -> None:
    cp = control_plane
    with installed(cp, cluster_helm, "peers", {"replicaCount": 2}) as release:
        (peering,) = release.manifest.names("ClusterKopfPeering")
        peering_path = f"/apis/kopf.dev/v1/clusterkopfpeerings/{peering}"
        assert get(cp, peering_path) is not None
        operator = OperatorProcess(cp, release.namespace, release.deployment, tmp_path, "peers-0")
        with operator:
            # kopf keeps this replica's entry (named after POD_ID) in the peering object.
            operator.wait_until(
                lambda: "peers-0" in ((get(cp, peering_path) or {}).get("status") or {}),
                "the replica's entry in the ClusterKopfPeering",
            )
            operator.wait_until(
                lambda: (
                    condition(get(cp, f"{GW}/gatewayclasses/{release.gateway_class}"), "Accepted")
                    == "True"
                ),
                "GatewayClass Accepted by the peering operator",
            )
            log = operator.log()
        assert "Forbidden" not in log and "Not enough permissions" not in log, log

        # Back to one replica by `helm upgrade`: standalone, the peering object removed.
        release.helm.run(
            "upgrade", release.name, str(CHART), "-n", release.namespace, "--reuse-values",
            "--set", "replicaCount=1",
        )  # fmt: skip
        deployment = get(
            cp, f"/apis/apps/v1/namespaces/{release.namespace}/deployments/{release.deployment}"
        )
        assert deployment is not None
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert "--standalone" in container["args"]
        wait_for(functools.partial(gone, cp, peering_path), "ClusterKopfPeering deleted")
        cluster_scoped = [
            api_path(doc) for doc in release.manifest.docs if "namespace" not in doc["metadata"]
        ]
        assert len(cluster_scoped) == 4  # ClusterRole + binding, GatewayClass, ClusterKopfPeering
    # Uninstalled: the release's cluster-wide objects are gone with it.
    for path in cluster_scoped:
        wait_for(functools.partial(gone, cp, path), f"{path} deleted")


class SecondReplica(OperatorProcess):
    """Another replica of the same release on this one machine: its ports moved to free ones
    (in a cluster each pod has its own)."""

    def _volumes(self) -> dict[str, Path]:
        mounts = super()._volumes()
        for settings_file in (p for d in mounts.values() for p in d.glob("settings.yaml")):
            settings = yaml.safe_load(settings_file.read_text())
            settings["xds"]["port"] = self.xds_port = free_port()
            settings["metrics"]["port"] = free_port()
            settings_file.write_text(yaml.safe_dump(settings))
        self.container["args"] = [
            f"--liveness=http://0.0.0.0:{free_port()}/healthz" if a.startswith("--liveness") else a
            for a in self.container["args"]
        ]
        return mounts

    def xds_listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.xds_port), timeout=5).close()
        except OSError:
            return False
        return True


def test_of_two_replicas_one_works_and_only_it_is_ready(
    control_plane: ControlPlane, cluster_helm: Helm, tmp_path: Path
) -> None:
    cp = control_plane
    with installed(cp, cluster_helm, "pair", {"replicaCount": 2}) as release:
        (peering,) = release.manifest.names("ClusterKopfPeering")
        peering_path = f"/apis/kopf.dev/v1/clusterkopfpeerings/{peering}"
        (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
        first = OperatorProcess(cp, release.namespace, release.deployment, tmp_path / "a", "pair-0")
        second = SecondReplica(cp, release.namespace, release.deployment, tmp_path / "b", "pair-1")
        with first, second:
            first.wait_until(
                lambda: (
                    {"pair-0", "pair-1"} <= set((get(cp, peering_path) or {}).get("status") or {})
                ),
                "both replicas in the ClusterKopfPeering",
            )
            # Not both paused (equal priorities would pause everyone): a new class is handled.
            name = f"late-{release.namespace}"
            ok(
                cp.api.post(
                    f"{GW}/gatewayclasses",
                    json={
                        "apiVersion": "gateway.networking.k8s.io/v1",
                        "kind": "GatewayClass",
                        "metadata": {"name": name},
                        "spec": {"controllerName": CONTROLLER_NAME},
                    },
                ),
                "create GatewayClass",
            )
            first.wait_until(
                lambda: condition(get(cp, f"{GW}/gatewayclasses/{name}"), "Accepted") == "True",
                "a late GatewayClass Accepted",
            )
            # Exactly one serves xDS, i.e. is ready: engines are never sent to a paused peer.
            try:
                first.wait_until(
                    lambda: first.probe("readinessProbe") != second.xds_listening(),
                    "exactly one replica ready",
                )
            except Exception:
                print("FIRST", first.probe("readinessProbe"), first.log()[-3000:])
                print("SECOND", second.xds_listening(), second.log()[-3000:])
                print("PEERING", get(cp, peering_path))
                raise
            cp.api.delete(f"{GW}/gatewayclasses/{name}")


# --- failing early ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_control_plane(k8s_bin_dir: Path) -> Iterator[ControlPlane]:
    """A control plane without the Gateway API CRDs."""
    with ControlPlane(bin_dir=k8s_bin_dir).start() as cp:
        yield cp


def test_install_without_gateway_api_fails_early_and_clearly(
    bare_control_plane: ControlPlane, k8s_bin_dir: Path, tmp_path: Path
) -> None:
    cp = bare_control_plane
    helm = Helm(k8s_bin_dir / "helm", tmp_path / "helm", cp.kubeconfig)
    namespace = cp.new_namespace("chart")
    result = helm.install("waf", namespace, check=False)
    assert result.returncode != 0
    assert "The Gateway API CRDs are a prerequisite of this chart" in result.stderr
    assert "GatewayClass, Gateway, HTTPRoute, ReferenceGrant" in result.stderr
    # Nothing of the release was created, and no release recorded. (Helm installs crds/ before
    # it renders any template: those CRDs, inert without the operator, are all that is left.)
    for kind in ("deployments", "serviceaccounts", "configmaps"):
        group = "apis/apps/v1" if kind == "deployments" else "api/v1"
        items = ok(cp.api.get(f"/{group}/namespaces/{namespace}/{kind}"), kind)["items"]
        assert [i["metadata"]["name"] for i in items if "waf" in i["metadata"]["name"]] == []
    fullname = "waf-airlock-microgateway-operator"
    for path in (
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{fullname}",
        "/apis/gateway.networking.k8s.io/v1/gatewayclasses/airlock-microgateway",
    ):
        assert gone(cp, path)
    assert helm.run("list", "-n", namespace, "-q").stdout.strip() == ""
