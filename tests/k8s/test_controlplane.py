"""The test control plane is a real one: TLS, RBAC, CRDs with schema validation, garbage
collection, helm; and it stops without leaving anything behind."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .controlplane import ControlPlane, wait_for

GATEWAY_API = "/apis/gateway.networking.k8s.io/v1"


def ok(response: httpx.Response) -> Any:
    assert response.is_success, f"HTTP {response.status_code}: {response.text}"
    return response.json()


def test_api_server_answers(control_plane: ControlPlane) -> None:
    assert control_plane.url.startswith("https://127.0.0.1:")
    assert control_plane.api.get("/readyz").text == "ok"
    # The version is stamped at build time (helm's kubeVersion checks read it).
    version = ok(control_plane.api.get("/version"))
    assert version["gitVersion"].startswith("v1.")
    assert version["major"] == "1"

    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == control_plane.url
    # The default namespace appears shortly after the server is ready.
    wait_for(
        lambda: control_plane.api.get("/api/v1/namespaces/default").status_code == 200,
        "namespace default",
    )


def test_tls_is_required(control_plane: ControlPlane) -> None:
    # The serving certificate is ours: a client that trusts only the system CAs refuses it.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{control_plane.url}/version")


def test_certificate_without_rights_is_forbidden(
    control_plane: ControlPlane, namespace: str
) -> None:
    nobody = control_plane.client(user="nobody", groups=["some-team"])
    response = nobody.get(f"/api/v1/namespaces/{namespace}/secrets")
    assert response.status_code == 403, response.text
    assert 'User "nobody" cannot list resource "secrets"' in response.json()["message"]
    assert control_plane.api.get(f"/api/v1/namespaces/{namespace}/secrets").status_code == 200


def test_service_account_token_gets_only_what_rbac_grants(
    control_plane: ControlPlane, namespace: str
) -> None:
    api = control_plane.api
    ok(
        api.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts", json={"metadata": {"name": "app"}}
        )
    )
    token_request = {"spec": {"expirationSeconds": 600}}
    token = ok(
        api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/app/token", json=token_request)
    )["status"]["token"]
    app = control_plane.client(token=token)

    whoami = ok(app.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}))
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:app"
    assert app.get(f"/api/v1/namespaces/{namespace}/configmaps").status_code == 403

    role = {
        "metadata": {"name": "read-configmaps"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }
    binding = {
        "metadata": {"name": "app-reads-configmaps"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "read-configmaps",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": namespace}],
    }
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    ok(api.post(f"{rbac}/roles", json=role))
    ok(api.post(f"{rbac}/rolebindings", json=binding))
    # The authorizer sees new bindings through a watch: a moment later, not at once.
    wait_for(
        lambda: app.get(f"/api/v1/namespaces/{namespace}/configmaps").status_code == 200,
        "the RoleBinding to take effect",
    )
    assert app.get(f"/api/v1/namespaces/{namespace}/secrets").status_code == 403
    assert app.get("/api/v1/namespaces/default/configmaps").status_code == 403


def test_gateway_api_standard_crds_are_served(control_plane: ControlPlane) -> None:
    resources = {r["name"] for r in ok(control_plane.api.get(GATEWAY_API))["resources"]}
    assert {"gatewayclasses", "gateways", "httproutes", "grpcroutes"} <= resources
    assert "referencegrants" in {
        r["name"]
        for r in ok(control_plane.api.get("/apis/gateway.networking.k8s.io/v1beta1"))["resources"]
    }


def test_gateway_resources_round_trip(control_plane: ControlPlane, namespace: str) -> None:
    api = control_plane.api
    gateway_class = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": f"class-{namespace}"},
        "spec": {"controllerName": "microgateway.airlock.com/gatewayclass-controller"},
    }
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw"},
        "spec": {
            "gatewayClassName": f"class-{namespace}",
            "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
        },
    }
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "route"},
        "spec": {
            "parentRefs": [{"name": "gw", "sectionName": "http"}],
            "hostnames": ["app.example.com"],
            "rules": [{"backendRefs": [{"name": "backend", "port": 8080}]}],
        },
    }
    ok(api.post(f"{GATEWAY_API}/gatewayclasses", json=gateway_class))
    try:
        ok(api.post(f"{GATEWAY_API}/namespaces/{namespace}/gateways", json=gateway))
        ok(api.post(f"{GATEWAY_API}/namespaces/{namespace}/httproutes", json=route))

        read_class = ok(api.get(f"{GATEWAY_API}/gatewayclasses/class-{namespace}"))
        assert (
            read_class["spec"]["controllerName"]
            == "microgateway.airlock.com/gatewayclass-controller"
        )
        read_gateway = ok(api.get(f"{GATEWAY_API}/namespaces/{namespace}/gateways/gw"))
        assert read_gateway["spec"]["listeners"][0]["port"] == 80
        # The CRD's schema defaults apply: an HTTPRoute rule without matches matches every path,
        # and a Gateway listener allows routes from its own namespace.
        read_route = ok(api.get(f"{GATEWAY_API}/namespaces/{namespace}/httproutes/route"))
        assert read_route["spec"]["rules"][0]["matches"] == [
            {"path": {"type": "PathPrefix", "value": "/"}}
        ]
        assert read_gateway["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["from"] == "Same"

        # And its validation rejects what the Gateway API forbids.
        bad = {**route, "metadata": {"name": "bad"}}
        bad["spec"] = {
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "no-slash"}}]}]
        }
        response = api.post(f"{GATEWAY_API}/namespaces/{namespace}/httproutes", json=bad)
        assert response.status_code == 422, response.text
    finally:
        api.delete(f"{GATEWAY_API}/gatewayclasses/class-{namespace}")


def test_garbage_collection_deletes_dependents(control_plane: ControlPlane, namespace: str) -> None:
    api = control_plane.api
    configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
    owner = ok(api.post(configmaps, json={"metadata": {"name": "owner"}}))
    owner_ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    ok(
        api.post(
            configmaps, json={"metadata": {"name": "dependent", "ownerReferences": [owner_ref]}}
        )
    )

    ok(api.delete(f"{configmaps}/owner"))
    wait_for(
        lambda: api.get(f"{configmaps}/dependent").status_code == 404,
        "the garbage collector to delete the dependent",
        timeout=180,
    )


def test_each_test_gets_a_fresh_namespace(control_plane: ControlPlane, namespace: str) -> None:
    assert namespace.startswith("test-each-test-gets-a-fresh-namespace-")
    assert (
        ok(control_plane.api.get(f"/api/v1/namespaces/{namespace}"))["status"]["phase"] == "Active"
    )
    other = control_plane.new_namespace("test-each-test-gets-a-fresh-namespace")
    assert other != namespace
    # With the controller manager, a deleted namespace goes away for good.
    control_plane.delete_namespace(other)
    wait_for(
        lambda: control_plane.api.get(f"/api/v1/namespaces/{other}").status_code == 404,
        "the namespace controller to remove the namespace",
        timeout=180,
    )


def test_helm_installs_a_chart(
    control_plane: ControlPlane, namespace: str, k8s_bin_dir: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        'apiVersion: v2\nname: probe\nversion: 0.1.0\nkubeVersion: ">=1.30.0-0"\n'
    )
    (chart / "templates" / "cm.yaml").write_text(
        textwrap.dedent("""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-probe
            data:
              kube: {{ .Capabilities.KubeVersion.Version | quote }}
            """)
    )
    helm = [str(k8s_bin_dir / "helm"), "--kubeconfig", str(control_plane.kubeconfig)]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # no user helm config leaks in
    subprocess.run(
        [*helm, "install", "probe", str(chart), "--namespace", namespace, "--wait"],
        check=True,
        env=env,
        capture_output=True,
    )
    configmap = ok(control_plane.api.get(f"/api/v1/namespaces/{namespace}/configmaps/probe-probe"))
    assert configmap["data"]["kube"].startswith("v1.")
    listed = subprocess.run(
        [*helm, "list", "--namespace", namespace, "--short"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.stdout.split() == ["probe"]


def test_stop_ends_processes_and_removes_files(k8s_bin_dir: Path) -> None:
    cp = ControlPlane(bin_dir=k8s_bin_dir).start()
    try:
        directory, popens = cp.dir, [p.popen for p in cp._processes]
        assert [p.name for p in cp._processes] == ["etcd", "kube-apiserver"]
        assert ok(cp.api.get("/api/v1/namespaces"))["kind"] == "NamespaceList"
    finally:
        cp.stop()
    assert all(p.returncode is not None for p in popens)
    assert not directory.exists()
    cp.stop()  # a second stop is harmless
