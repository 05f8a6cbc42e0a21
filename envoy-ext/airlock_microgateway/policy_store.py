"""The sidecar's policies: named ContentSecurity bundles, compiled, swapped atomically on reload.

A stream takes the current `PolicySet` when it starts and keeps it to its end, so a reload never
changes the policy under a request in flight. A new set is compiled completely (Hyperscan
databases included) before it replaces the old one; a bad file keeps the old set.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airlock_filters.engine import Engine
from airlock_filters.policy import ContentSecurity, load_policy_set
from airlock_microgateway.header_rewrites import HeaderRewrites


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    name: str
    policy: ContentSecurity
    engine: Engine
    rewrites: HeaderRewrites


@dataclass(frozen=True, slots=True)
class PolicySet:
    policies: dict[str, CompiledPolicy]
    digest: str  # of the documents it was built from: unchanged files need no recompile

    def get(self, name: str) -> CompiledPolicy | None:
        return self.policies.get(name)


def documents_digest(documents: Sequence[tuple[str, Any]]) -> str:
    return hashlib.sha256(repr(documents).encode()).hexdigest()


def validate_documents(documents: Sequence[tuple[str, Any]]) -> list[str]:
    """The policy names, or PolicyError naming what is wrong; compiles nothing."""
    policies = load_policy_set(documents)
    for name, policy in policies.items():
        HeaderRewrites.from_spec(policy.header_rewrites, f"{name}: HeaderRewrites spec")
    return sorted(policies)


def compile_documents(documents: Sequence[tuple[str, Any]]) -> PolicySet:
    """Compile every policy of the documents; raises PolicyError naming what is wrong."""
    compiled: dict[str, CompiledPolicy] = {}
    for name, policy in load_policy_set(documents).items():
        rewrites = HeaderRewrites.from_spec(policy.header_rewrites, f"{name}: HeaderRewrites spec")
        compiled[name] = CompiledPolicy(name, policy, Engine(policy), rewrites)
    return PolicySet(compiled, documents_digest(documents))


class PolicyStore:
    """Holds the current PolicySet; replacing it is one reference assignment."""

    def __init__(self, initial: PolicySet) -> None:
        self._current = initial
        self._lock = threading.Lock()  # one reload at a time

    @property
    def current(self) -> PolicySet:
        return self._current

    def replace(self, documents: Sequence[tuple[str, Any]]) -> bool:
        """Compile and swap in a new set; False when the documents did not change.
        Raises PolicyError (and keeps the current set) when they are invalid."""
        with self._lock:
            if documents_digest(documents) == self._current.digest:
                return False
            self._current = compile_documents(documents)
            return True
