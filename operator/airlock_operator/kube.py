"""The operator's writes to the API server, over the `kubernetes` client: server-side apply,
status patches, get and delete of any kind, named by apiVersion and kind.

Synchronous (kopf handlers call it through asyncio.to_thread; the client's connection pool is
thread-safe). Resource names come from the API server's discovery of each group version, so
CRDs need no table here. Failed requests raise `kubernetes.client.ApiException` (its subclasses
NotFoundException, ConflictException, ...); a kind the server does not serve raises KubeError.

    kube = Kube(load_client())               # in the cluster
    kube.apply(build_service(gateway, parameters))
    kube.patch_status("gateway.networking.k8s.io/v1", "Gateway", "web", "shop", {...})
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client import ApiClient, ApiException

from airlock_operator.settings import FIELD_MANAGER

REQUEST_TIMEOUT = 30.0


class KubeError(RuntimeError):
    """A request the operator cannot make: an unknown kind, a missing name or namespace."""


def load_client(kubeconfig: str | Path | None = None) -> ApiClient:
    """A client from this kubeconfig file; without one, the pod's service account inside a
    cluster, else the default kubeconfig ($KUBECONFIG or ~/.kube/config)."""
    if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return ApiClient(configuration)
    return config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None)


class Kube:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        # apiVersion -> kind -> (plural, namespaced), filled from discovery as kinds are used.
        self._kinds: dict[str, dict[str, tuple[str, bool]]] = {}

    # --- the operations -------------------------------------------------------------------

    def apply(
        self, obj: dict[str, Any], *, field_manager: str = FIELD_MANAGER, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply: creates or updates `obj`, owning exactly the fields it names.
        Applying the same object again changes nothing (not even resourceVersion)."""
        metadata = obj.get("metadata") or {}
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not api_version or not kind or not metadata.get("name"):
            raise KubeError("an applied object needs apiVersion, kind and metadata.name")
        path = self._path(api_version, kind, metadata["name"], metadata.get("namespace"))
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        # JSON is YAML, and the client sends a dict body as JSON whatever the content type.
        return self._request("PATCH", path, query, obj, "application/apply-patch+yaml")

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Creates `obj`; ConflictException (409) when it exists. For objects that must not be
        overwritten when two operators start at once, such as the CA."""
        metadata = obj.get("metadata") or {}
        plural_path = self._path(obj["apiVersion"], obj["kind"], "", metadata.get("namespace"))
        return self._request("POST", plural_path.rstrip("/"), None, obj, "application/json")

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        try:
            return self._request("GET", self._path(api_version, kind, name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Deletes the object (its dependents in the background); False when it was gone."""
        try:
            self._request("DELETE", self._path(api_version, kind, name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def patch_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        status: dict[str, Any],
    ) -> dict[str, Any]:
        """Merges `status` into the status subresource (a JSON merge patch: lists such as
        conditions are replaced whole, keys set to None are removed)."""
        path = self._path(api_version, kind, name, namespace) + "/status"
        return self._request(
            "PATCH", path, None, {"status": status}, "application/merge-patch+json"
        )

    # --- paths and requests ---------------------------------------------------------------

    def _path(self, api_version: str, kind: str, name: str, namespace: str | None) -> str:
        plural, namespaced = self._resource(api_version, kind)
        if namespaced and not namespace:
            raise KubeError(f"{kind} {name!r} is namespaced: give its namespace")
        if not namespaced and namespace:
            raise KubeError(f"{kind} {name!r} is cluster-scoped: it has no namespace")
        prefix = _group_version_path(api_version)
        if namespaced:
            prefix += f"/namespaces/{namespace}"
        return f"{prefix}/{plural}/{name}"

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        kinds = self._kinds.get(api_version, {})
        if kind not in kinds:
            # Not seen yet, or a CRD installed since the last look: ask again.
            kinds = self._kinds[api_version] = self._discover(api_version)
        if kind not in kinds:
            raise KubeError(f"the API server serves no kind {kind} in {api_version}")
        return kinds[kind]

    def _discover(self, api_version: str) -> dict[str, tuple[str, bool]]:
        try:
            found = self._request("GET", _group_version_path(api_version))
        except ApiException as exc:
            if exc.status == 404:
                raise KubeError(f"the API server serves no {api_version}") from exc
            raise
        return {
            r["kind"]: (r["name"], bool(r.get("namespaced")))
            for r in found.get("resources", [])
            if "/" not in r["name"]  # subresources such as deployments/status
        }

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        request = self.api.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        # Bounded: a hung connection must not hold a handler's thread forever.
        response = self.api.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
        data = response.read() or b""
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(
                http_resp=response, body=data.decode(errors="replace"), data=None
            )
        return json.loads(data) if data else None


def _group_version_path(api_version: str) -> str:
    # The core group ("v1") lives under /api, all others under /apis.
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
