"""The operator's view of the cluster: the last seen body of every watched object.

Handlers put and remove objects as watch events arrive; the pure functions that compute
statuses and engine configuration read a World and never the API server, so they can be
tested without a cluster.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class World:
    def __init__(self) -> None:
        self._objects: dict[str, dict[Key, dict[str, Any]]] = defaultdict(dict)

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        self._objects[kind][key_of(obj)] = obj

    def remove(self, kind: str, key: Key) -> None:
        self._objects[kind].pop(key, None)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects[kind].get((namespace, name))

    def all(self, kind: str) -> list[dict[str, Any]]:
        return list(self._objects[kind].values())

    def count(self, kind: str) -> int:
        return len(self._objects[kind])


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def name_of(obj: dict[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: dict[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def generation(obj: dict[str, Any]) -> int:
    return int(meta(obj).get("generation") or 0)
