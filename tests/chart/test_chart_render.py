"""The chart rendered by the real helm (`helm lint`, `helm template`) for the main value
combinations; what the rendered settings say is read by the operator's own Settings loader."""

from __future__ import annotations

from typing import Any

import pytest
from chart_helm import CHART, GATEWAY_API, NAMESPACE, RELEASE, SERVICE_MONITOR_API, Helm, Manifest

from airlock_operator.cli import _parser
from airlock_operator.settings import BOOTSTRAP_SECRET, CA_SECRET, CONTROLLER_NAME, Settings

CHART_KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Deployment",
    "Service",
    "GatewayClass",
    "Pod",  # the `helm test` hook
}


def args_of(manifest: Manifest) -> Any:
    """The operator's command line as its own parser reads it."""
    container = manifest.container()
    assert container["command"] == ["airlock-microgateway-operator"]
    return _parser().parse_args(container["args"])


# --- lint ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        None,
        {"replicaCount": 3, "metrics": {"enabled": False}, "gatewayClass": {"create": False}},
        {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "mine"}},
    ],
    ids=["defaults", "replicas-no-metrics-no-class", "own-rbac-and-account"],
)
def test_lint_strict(helm: Helm, values: dict[str, Any] | None) -> None:
    result = helm.run("lint", "--strict", str(CHART), *helm.values_file(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


# --- defaults -----------------------------------------------------------------------------------


def test_defaults_install_the_operator_with_its_own_defaults(helm: Helm) -> None:
    """Installed as README says (release and namespace airlock-microgateway-...), the rendered
    settings are exactly the operator's built-in defaults: names, ports and images agree."""
    manifest = helm.render()
    assert manifest.kinds() == CHART_KINDS
    assert Settings.from_dict(manifest.settings()) == Settings()
    assert manifest.names("Service") == [f"{RELEASE}-metrics", f"{RELEASE}-xds"]
    assert manifest.container()["image"] == "ghcr.io/airlock-microgateway/operator:0.1.0"
    gateway_class = manifest.one("GatewayClass")
    assert gateway_class["metadata"]["name"] == "airlock-microgateway"
    assert gateway_class["spec"]["controllerName"] == CONTROLLER_NAME
    assert "parametersRef" not in gateway_class["spec"]
    assert manifest.one("Deployment")["spec"]["replicas"] == 1
    assert args_of(manifest).standalone


def test_settings_follow_release_and_values(helm: Helm) -> None:
    manifest = helm.render(
        {
            "xds": {"port": 15000},
            "metrics": {"port": 9100},
            "health": {"port": 9101},
            "certificates": {"renewalPeriod": "12h"},
            "engine": {"image": "registry.example/envoy:v9"},
            "sidecar": {"image": "registry.example/sidecar:v9", "workers": 4},
        },
        release="edge",
        namespace="waf",
    )
    settings = Settings.from_dict(manifest.settings())
    assert settings.namespace == "waf"
    # The engines dial the xDS Service by its DNS name, on the port the operator listens on.
    xds = manifest.one("Service", "edge-airlock-microgateway-operator-xds")
    assert settings.xds_host == "edge-airlock-microgateway-operator-xds.waf.svc"
    assert settings.xds_port == xds["spec"]["ports"][0]["port"] == 15000
    assert settings.metrics_port == 9100
    assert (settings.engine_image, settings.sidecar_image) == (
        "registry.example/envoy:v9",
        "registry.example/sidecar:v9",
    )
    assert settings.sidecar_workers == 4
    assert settings.renewal_period.total_seconds() == 12 * 3600
    ports = {p["name"]: p["containerPort"] for p in manifest.container()["ports"]}
    assert ports == {"xds": 15000, "metrics": 9100, "health": 9101}
    assert args_of(manifest).liveness == "http://0.0.0.0:9101/healthz"
    # Every Service reaches a named port of the operator container, on pods it selects.
    labels = manifest.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    for service in manifest.all("Service"):
        assert service["spec"]["selector"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"]


def test_fullname_override_names_the_xds_service_in_the_settings(helm: Helm) -> None:
    manifest = helm.render({"fullnameOverride": "waf-operator"})
    assert Settings.from_dict(manifest.settings()).xds_host == f"waf-operator-xds.{NAMESPACE}.svc"
    assert "waf-operator-xds" in manifest.names("Service")


def test_changed_settings_roll_the_operator_pods(helm: Helm) -> None:
    def checksum(manifest: Manifest) -> str:
        annotations = manifest.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/settings"])

    default = checksum(helm.render())
    assert checksum(helm.render({"certificates": {"renewalPeriod": "24h"}})) != default
    assert checksum(helm.render({"podLabels": {"team": "waf"}})) == default


# --- the pod ------------------------------------------------------------------------------------


def test_operator_pod_is_hardened(helm: Helm) -> None:
    manifest = helm.render()
    pod = manifest.one("Deployment")["spec"]["template"]["spec"]
    container = manifest.container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert container["resources"]["limits"] == {"memory": "1Gi"}
    # Writable: /tmp only, an emptyDir; the settings come read-only from the ConfigMap.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    settings_volume = volumes[mounts["/etc/airlock-microgateway-operator"]["name"]]
    assert settings_volume["configMap"]["name"] == manifest.one("ConfigMap")["metadata"]["name"]
    assert mounts["/etc/airlock-microgateway-operator"]["readOnly"] is True
    assert args_of(manifest).settings == "/etc/airlock-microgateway-operator/settings.yaml"
    assert pod["serviceAccountName"] == manifest.one("ServiceAccount")["metadata"]["name"]


def test_probes_ask_the_operators_endpoints(helm: Helm) -> None:
    manifest = helm.render({"health": {"port": 9200}})
    container = manifest.container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    liveness = container["livenessProbe"]["httpGet"]
    # kopf's liveness endpoint, where --liveness puts it.
    assert (
        f"http://0.0.0.0:{ports[liveness['port']]}{liveness['path']}" == args_of(manifest).liveness
    )
    readiness = container["readinessProbe"]["tcpSocket"]
    assert ports[readiness["port"]] == Settings.from_dict(manifest.settings()).xds_port
    off = helm.render({"livenessProbe": {"enabled": False}, "readinessProbe": {"enabled": False}})
    assert "livenessProbe" not in off.container() and "readinessProbe" not in off.container()


def test_pod_placement_values_reach_the_pod(helm: Helm) -> None:
    placement = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "waf", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}
        ],
        "priorityClassName": "system-cluster-critical",
    }
    manifest = helm.render(
        {
            **placement,
            "podAnnotations": {"a": "b"},
            "podLabels": {"team": "waf"},
            "imagePullSecrets": [{"name": "regcred"}],
            "strategy": {"type": "Recreate"},
            "image": {"digest": "sha256:" + "a" * 64},
            "logging": {"verbose": True},
        }
    )
    deployment = manifest.one("Deployment")
    pod = deployment["spec"]["template"]
    for key, value in placement.items():
        assert pod["spec"][key] == value
    assert pod["metadata"]["annotations"]["a"] == "b"
    assert pod["metadata"]["labels"]["team"] == "waf"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert manifest.container()["image"] == "ghcr.io/airlock-microgateway/operator@sha256:" + (
        "a" * 64
    )
    assert args_of(manifest).verbose


# --- replicas and peering -----------------------------------------------------------------------


def _rules(manifest: Manifest, kind: str = "ClusterRole") -> list[dict[str, Any]]:
    return list(manifest.one(kind)["rules"])


def test_one_replica_runs_standalone_without_peering(helm: Helm) -> None:
    manifest = helm.render()
    assert args_of(manifest).standalone
    assert not manifest.all("ClusterKopfPeering")
    assert not [r for r in _rules(manifest) if "kopf.dev" in r["apiGroups"]]


def test_replicas_elect_through_kopf_peering(helm: Helm) -> None:
    manifest = helm.render({"replicaCount": 3})
    args = args_of(manifest)
    assert not args.standalone
    assert args.peering == RELEASE
    assert manifest.names("ClusterKopfPeering") == [RELEASE]
    assert manifest.one("Deployment")["spec"]["replicas"] == 3
    env = {e["name"]: e for e in manifest.container()["env"]}
    # kopf tells the replicas apart by POD_ID.
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    kopf_rules = [r for r in _rules(manifest) if "kopf.dev" in r["apiGroups"]]
    assert {(v, tuple(r.get("resourceNames", []))) for r in kopf_rules for v in r["verbs"]} == {
        ("list", ()),
        ("watch", ()),
        ("get", (RELEASE,)),
        ("patch", (RELEASE,)),
    }
    named = helm.render({"replicaCount": 2, "peering": {"name": "waf-peers"}})
    assert args_of(named).peering == "waf-peers"
    assert named.names("ClusterKopfPeering") == ["waf-peers"]


# --- RBAC ---------------------------------------------------------------------------------------

# Everything the operator may do: (API group, resource, verb, resource names). The install test
# runs the operator with exactly these rights; this table keeps them from growing unnoticed.
CLUSTER_RIGHTS = {
    *(
        ("gateway.networking.k8s.io", r, v, ())
        for r in ("gatewayclasses", "gateways", "httproutes", "referencegrants")
        for v in ("list", "watch")
    ),
    *(
        ("gateway.networking.k8s.io", f"{r}/status", "patch", ())
        for r in ("gatewayclasses", "gateways", "httproutes")
    ),
    *(
        ("microgateway.airlock.com", r, v, ())
        for r in (
            "contentsecuritypolicies",
            "denyrules",
            "limits",
            "parsers",
            "headerrewrites",
            "gatewayparameters",
        )
        for v in ("list", "watch")
    ),
    ("microgateway.airlock.com", "contentsecuritypolicies/status", "patch", ()),
    *(("apps", "deployments", v, ()) for v in ("list", "watch", "create", "patch")),
    *(("", "services", v, ()) for v in ("list", "watch", "create", "patch")),
    *(("discovery.k8s.io", "endpointslices", v, ()) for v in ("list", "watch")),
    *(("", "namespaces", v, ()) for v in ("list", "watch")),
    *(("", "secrets", v, ()) for v in ("list", "watch")),
    *(("", "secrets", v, (BOOTSTRAP_SECRET,)) for v in ("create", "patch", "delete")),
    ("", "events", "create", ()),
    *(("apiextensions.k8s.io", "customresourcedefinitions", v, ()) for v in ("list", "watch")),
}
NAMESPACE_RIGHTS = {("", "secrets", "get", (CA_SECRET,)), ("", "secrets", "create", ())}


def _rights(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {
        (group, resource, verb, tuple(rule.get("resourceNames", [])))
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_rbac_grants_only_what_the_operator_uses(helm: Helm) -> None:
    manifest = helm.render()
    assert _rights(_rules(manifest)) == CLUSTER_RIGHTS
    role = manifest.one("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert _rights(_rules(manifest, "Role")) == NAMESPACE_RIGHTS
    account = manifest.one("ServiceAccount")["metadata"]
    for binding in (manifest.one("ClusterRoleBinding"), manifest.one("RoleBinding")):
        (subject,) = binding["subjects"]
        assert (subject["name"], subject["namespace"]) == (account["name"], account["namespace"])
        assert (
            binding["roleRef"]["name"]
            == manifest.one(binding["roleRef"]["kind"])["metadata"]["name"]
        )


def test_rbac_and_service_account_can_be_brought_along(helm: Helm) -> None:
    manifest = helm.render(
        {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "own"}}
    )
    assert not manifest.kinds() & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    assert not manifest.all("ServiceAccount")
    assert manifest.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "own"
    result = helm.template({"serviceAccount": {"create": False}}, check=False)
    assert result.returncode != 0
    assert "serviceAccount.name is required when serviceAccount.create is false" in result.stderr


# --- optional parts -----------------------------------------------------------------------------


def test_gateway_class_is_optional_and_takes_parameters(helm: Helm) -> None:
    assert not helm.render({"gatewayClass": {"create": False}}).all("GatewayClass")
    manifest = helm.render(
        {"gatewayClass": {"name": "waf", "parametersRef": {"name": "engine-defaults"}}}
    )
    spec = manifest.one("GatewayClass", "waf")["spec"]
    assert spec["parametersRef"] == {
        "group": "microgateway.airlock.com",
        "kind": "GatewayParameters",
        "name": "engine-defaults",
        "namespace": NAMESPACE,
    }


def test_service_monitor_scrapes_the_metrics_service(helm: Helm) -> None:
    manifest = helm.render(
        {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
        api_versions=[*GATEWAY_API, SERVICE_MONITOR_API],
    )
    monitor = manifest.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selected = [
        s
        for s in manifest.all("Service")
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in selected] == [f"{RELEASE}-metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in [p["name"] for p in selected[0]["spec"]["ports"]]
    assert endpoint["path"] == "/metrics"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert not helm.render().all("ServiceMonitor")


def test_service_monitor_needs_its_crd_and_metrics(helm: Helm) -> None:
    without_crd = helm.template({"metrics": {"serviceMonitor": {"enabled": True}}}, check=False)
    assert without_crd.returncode != 0
    assert "needs the Prometheus Operator's ServiceMonitor CRD" in without_crd.stderr
    without_metrics = helm.template(
        {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
        api_versions=[*GATEWAY_API, SERVICE_MONITOR_API],
        check=False,
    )
    assert without_metrics.returncode != 0
    assert "metrics.serviceMonitor.enabled needs metrics.enabled" in without_metrics.stderr


def test_metrics_can_be_switched_off(helm: Helm) -> None:
    manifest = helm.render({"metrics": {"enabled": False}})
    assert Settings.from_dict(manifest.settings()).metrics_port == 0  # the operator serves none
    assert manifest.names("Service") == [f"{RELEASE}-xds"]
    assert "metrics" not in [p["name"] for p in manifest.container()["ports"]]
    assert not manifest.hooks()  # the test pod checks the metrics


def test_helm_test_pod_asks_the_metrics_service(helm: Helm) -> None:
    manifest = helm.render()
    (pod,) = manifest.hooks()
    assert pod["kind"] == "Pod"
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["METRICS_URL"] == f"http://{RELEASE}-metrics.{NAMESPACE}.svc:8080/metrics"
    assert pod["spec"]["restartPolicy"] == "Never"
    # The test pod must not match the Services' selectors (it serves nothing).
    for service in manifest.all("Service"):
        assert not service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()


# --- failing early ------------------------------------------------------------------------------


def test_without_gateway_api_the_chart_refuses_to_render(helm: Helm) -> None:
    result = helm.template(api_versions=[], check=False)
    assert result.returncode != 0
    assert "The Gateway API CRDs are a prerequisite of this chart" in result.stderr
    assert "GatewayClass, Gateway, HTTPRoute, ReferenceGrant" in result.stderr
    assert "standard-install.yaml" in result.stderr
    partial = helm.template(api_versions=GATEWAY_API[:2], check=False)
    assert partial.returncode != 0
    assert "missing (HTTPRoute, ReferenceGrant of gateway.networking.k8s.io/v1)" in partial.stderr


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
        (
            {"gatewayClass": {"create": "yes"}},
            "at '/gatewayClass/create': got string, want boolean",
        ),
        ({"resources": "small"}, "at '/resources': got string, want object"),
        ({"xds": {"port": 70000}}, "at '/xds/port'"),
        ({"metrics": {"port": "8080"}}, "at '/metrics/port': got string, want integer"),
        ({"certificates": {"renewalPeriod": "soon"}}, "at '/certificates/renewalPeriod'"),
        ({"certificates": {"renewalPeriod": 48}}, "at '/certificates/renewalPeriod': got number"),
        ({"sidecar": {"workers": 0}}, "at '/sidecar/workers'"),
        ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
        ({"tolerations": {"key": "x"}}, "at '/tolerations': got object, want array"),
        ({"podLabels": {"team": 1}}, "at '/podLabels/team': got number, want string"),
        ({"gatewayclass": {"create": False}}, "additional properties 'gatewayclass' not allowed"),
        ({"metrics": {"servicemonitor": {}}}, "additional properties 'servicemonitor' not allowed"),
    ],
)
def test_schema_rejects_wrong_values(helm: Helm, values: dict[str, Any], error: str) -> None:
    result = helm.template(values, check=False)
    assert result.returncode != 0
    assert error in result.stderr
