"""Selects the scanner: the Hyperscan extension, or its pyre2 twin.

`AIRLOCK_FILTERS_NO_EXTENSIONS=1` forces the pure-Python twin. Patterns Hyperscan refuses are
scanned by RE2 beside it, with a warning naming them.

The Hyperscan scanner searches most patterns in all values at once, joined into one buffer
(see `airlock_filters._seal`), and splits the patterns into databases by the groups the caller
gives, so that a value is scanned only by databases with patterns that can apply to it.

Compiling a few hundred rich patterns takes Hyperscan many seconds, so compiled databases are
kept on disk (`AIRLOCK_FILTERS_CACHE_DIR`, default `~/.cache/airlock-filters`), keyed by the
expressions, flags, groups and Hyperscan version; masks are not part of a database, so policies
that differ only in levels and overrides share them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from airlock_filters import _scanner_py
from airlock_filters._seal import seal

log = logging.getLogger(__name__)

CASELESS = _scanner_py.CASELESS
DOTALL = _scanner_py.DOTALL


class ScannerProtocol(Protocol):
    def __len__(self) -> int: ...

    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]: ...


def _load_extension() -> type | None:
    if os.environ.get("AIRLOCK_FILTERS_NO_EXTENSIONS"):
        return None
    try:
        from airlock_filters import _scanner_c
    except ImportError as exc:
        log.warning("Hyperscan scanner unavailable (%s); using the RE2 twin", exc)
        return None
    if not _scanner_c.valid_platform():
        log.warning("Hyperscan cannot run on this CPU (it needs SSE4.2); using the RE2 twin")
        return None
    return _scanner_c.Scanner


_COMPILED = _load_extension()
IMPLEMENTATION = "hyperscan" if _COMPILED is not None else "re2"


def widen_whitespace(pattern: str) -> str:
    r"""`pattern` with every `\s` widened to include the vertical tab.

    Hyperscan's `\s` matches the vertical tab, RE2's does not; both engines must agree, so the
    engine passes every pattern through this before compiling it.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if pair == r"\s":
                out.append(r"\s\x0b" if in_class else r"[\s\x0b]")
            else:
                out.append(pair)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            # A `]` or `^]` right after the opening bracket is a literal, not the end.
            if pattern[i + 1 : i + 3] == "^]":
                out.append("^]")
                i += 2
            elif pattern[i + 1 : i + 2] == "]":
                out.append("]")
                i += 1
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


def cache_dir() -> Path:
    configured = os.environ.get("AIRLOCK_FILTERS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "airlock-filters"


# Bumped when the layout of a cache file changes, so that old files are not misread.
_CACHE_FORMAT = b"database-3"
# The built-in rules at all levels take about 100 MB; room for a good number of policies.
CACHE_LIMIT_BYTES = 512 * 2**20


def database_members(
    patterns: Sequence[tuple[bytes, int, int]], groups: Sequence[int]
) -> list[list[int]]:
    """The pattern indices of each database, in the compiled scanner's order: one database per
    (group, JOINED flag), sorted by that pair."""
    from airlock_filters import _scanner_c

    members: dict[tuple[int, bool], list[int]] = {}
    for i, ((_, flags, _), group) in enumerate(zip(patterns, groups, strict=True)):
        members.setdefault((group, bool(flags & _scanner_c.JOINED)), []).append(i)
    return [members[key] for key in sorted(members)]


def _cache_key(
    patterns: Sequence[tuple[bytes, int, int]], group: int, members: list[int], version: str
) -> str:
    digest = hashlib.sha256(_CACHE_FORMAT + b":" + version.encode() + b":%d:" % group)
    for i in members:
        expression, flags, _ = patterns[i]
        digest.update(b"%d:%d:" % (flags, len(expression)))
        digest.update(expression)
    return digest.hexdigest()


def _read_cached(path: Path) -> tuple[bytes | None, list[int]] | None:
    """(database or None, the positions among its patterns Hyperscan refused), or None."""
    try:
        data = path.read_bytes()
        meta_length = int.from_bytes(data[:4], "big")
        meta = json.loads(data[4 : 4 + meta_length])
        database = data[4 + meta_length :] if meta["compiled"] else None
        return database, [int(p) for p in meta["rejected"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not cached yet, or unreadable: compile


def _write_cached(path: Path, database: bytes | None, rejected: list[int]) -> None:
    meta = json.dumps({"compiled": database is not None, "rejected": rejected}).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a concurrent reader never sees half a database.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(len(meta).to_bytes(4, "big") + meta + (database or b""))
        os.replace(tmp.name, path)
    except OSError as exc:
        log.debug("cannot cache the compiled database in %s: %s", path.parent, exc)
        return
    _evict(path.parent)


def _evict(directory: Path, limit: int = CACHE_LIMIT_BYTES) -> None:
    """Delete the least recently written databases while the cache is over `limit` bytes:
    every policy change leaves files that may never be read again."""
    try:
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in directory.glob("*.hsdb")]
    except OSError:
        return
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size


class NotCached(Exception):
    """A database is not in the on-disk cache, and `cached_only()` forbids compiling it."""


_cached_only = False


@contextlib.contextmanager
def cached_only() -> Iterator[None]:
    """Build scanners only from cached databases; raise NotCached instead of compiling.

    Lets a caller that keeps a compile out of its own heap (the sidecar compiles in a
    short-lived child) skip that child when every database is cached already.
    """
    global _cached_only
    _cached_only = True
    try:
        yield
    finally:
        _cached_only = False


def _compile_cached(
    patterns: Sequence[tuple[bytes, int, int]], groups: Sequence[int], compiled: Any
) -> Any:
    """A Hyperscan scanner whose databases come from the on-disk cache where those patterns
    were compiled before. Cached per database, so that a policy with a custom rule compiles
    only the database of its custom rules, not the built-in ones again."""
    from airlock_filters import _scanner_c

    members = database_members(patterns, groups)
    paths = [
        cache_dir() / f"{_cache_key(patterns, groups[m[0]], m, _scanner_c.HYPERSCAN_VERSION)}.hsdb"
        for m in members
    ]
    serialized: list[bytes | object | None] = []
    rejected: list[int] = []
    missing = []
    for d, path in enumerate(paths):
        cached = _read_cached(path)
        if cached is None:
            serialized.append(_scanner_c.COMPILE)
            missing.append(d)
            continue
        database, positions = cached
        serialized.append(database)
        rejected.extend(members[d][p] for p in positions)
    if missing and _cached_only:
        raise NotCached(f"{len(missing)} of {len(paths)} databases not cached")
    try:
        scanner = compiled(patterns, groups, serialized=serialized, rejected=sorted(rejected))
    except ValueError as exc:
        # A cached database Hyperscan cannot load (damaged, or compiled on a CPU with features
        # this one lacks): the cache only saves time, so compile them all and replace the files.
        if _cached_only:
            raise NotCached(f"a cached database does not load: {exc}") from exc
        log.warning("cached Hyperscan databases do not load (%s): compiling them again", exc)
        scanner = compiled(patterns, groups)
        missing = list(range(len(paths)))
    if missing:
        databases = scanner.serialize()
        refused = set(scanner.rejected)
        for d in missing:
            positions = [p for p, i in enumerate(members[d]) if i in refused]
            _write_cached(paths[d], databases[d], positions)
    return scanner


def _sealed(patterns: Sequence[tuple[bytes, int, int]]) -> list[tuple[bytes, int, int]]:
    """The patterns as the Hyperscan scanner takes them: sealed and flagged JOINED if possible."""
    from airlock_filters import _scanner_c

    out = []
    for expression, flags, mask in patterns:
        sealed = seal(expression, dotall=bool(flags & DOTALL))
        if sealed is None:
            out.append((expression, flags, mask))
        else:
            out.append((sealed, flags | _scanner_c.JOINED, mask))
    return out


class HybridScanner:
    """Hyperscan for what it takes, RE2 for the rest; results as if one scanner."""

    def __init__(
        self,
        patterns: Sequence[tuple[bytes, int, int]],
        compiled: type,
        groups: Sequence[int] | None = None,
    ) -> None:
        from airlock_filters import _scanner_c

        groups = [0] * len(patterns) if groups is None else list(groups)
        given = _sealed(patterns)
        self._hs = _compile_cached(given, groups, compiled)
        self._fallback_ids = list(self._hs.rejected)
        for index in self._fallback_ids:
            reason = getattr(self._hs, "rejected_reasons", {}).get(index, "rejected")
            log.warning(
                "pattern %d falls back to RE2 (Hyperscan: %s): %r",
                index,
                reason,
                patterns[index][0],
            )
        self._re2 = _scanner_py.Scanner([patterns[i] for i in self._fallback_ids])
        # A value holding a frame byte cannot join a buffer; the engine never makes one (its
        # values are UTF-8), so the RE2 search of the joined patterns in it is built on demand.
        refused = set(self._fallback_ids)
        self._joined_ids = [
            i
            for i, (_, flags, _) in enumerate(given)
            if flags & _scanner_c.JOINED and i not in refused
        ]
        self._joined_patterns = [patterns[i] for i in self._joined_ids]
        self._re2_joined: _scanner_py.Scanner | None = None
        self._size = len(patterns)

    def __len__(self) -> int:
        return self._size

    def database_size(self) -> int:
        return int(self._hs.database_size())

    def scan(self, values: Sequence[bytes], bits: Sequence[int]) -> list[tuple[int, int]]:
        skipped: list[int] = []
        hits = self._hs.scan(values, bits, skipped)
        if self._fallback_ids:
            hits.extend((self._fallback_ids[p], v) for p, v in self._re2.scan(values, bits))
        if skipped:
            if self._re2_joined is None:
                self._re2_joined = _scanner_py.Scanner(self._joined_patterns)
            found = self._re2_joined.scan([values[v] for v in skipped], [bits[v] for v in skipped])
            hits.extend((self._joined_ids[p], skipped[v]) for p, v in found)
        if self._fallback_ids or skipped:
            hits.sort()
        return hits


def build_scanner(
    patterns: Sequence[tuple[bytes, int, int]],
    implementation: str | None = None,
    groups: Sequence[int] | None = None,
) -> ScannerProtocol:
    """A scanner over (expression, flags, mask) patterns; `implementation` forces one.

    `groups` (one small int per pattern) splits the compiled scanner's patterns into databases:
    a value is scanned only by the databases whose patterns' masks meet its bits, so patterns
    that apply to different slots are best grouped apart. It changes no result.
    """
    implementation = implementation or IMPLEMENTATION
    if implementation == "re2":
        return _scanner_py.Scanner(patterns)
    if _COMPILED is None:
        raise RuntimeError("the Hyperscan scanner extension is not available")
    return HybridScanner(patterns, _COMPILED, groups)
