"""The request model: what the engine inspects, and the fields parsed out of it."""

from __future__ import annotations

import base64
import binascii
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlock_filters import _field_py
from airlock_filters._field_py import FIELD_TYPES


def _select_field() -> type:
    """The compiled `Field`, or the pure dataclass with AIRLOCK_FILTERS_NO_EXTENSIONS=1 or
    without the extension; both behave the same."""
    if os.environ.get("AIRLOCK_FILTERS_NO_EXTENSIONS"):
        return _field_py.Field
    try:
        from airlock_filters import _field_c
    except ImportError as exc:
        logging.getLogger(__name__).warning("compiled Field unavailable (%s)", exc)
        return _field_py.Field
    return _field_c.Field


if TYPE_CHECKING:
    from airlock_filters._field_py import Field
else:
    Field = _select_field()  # one named piece of a request, in the form the parser produced

# Internal field kinds. Each maps to one API field type (`FIELD_TYPE`) used by overrides and
# exceptions; headers are split so injection rules skip structured protocol headers
# (Accept, Range, ...) that would otherwise be a steady source of false positives.
PATH = 0
SEGMENT = 1
PARAM = 2
JSON = 3
HEADER = 4  # headers carrying free data: cookies, User-Agent, Referer, custom headers
META = 5  # standard protocol headers with a fixed grammar
KINDS = (PATH, SEGMENT, PARAM, JSON, HEADER, META)
FIELD_TYPE = dict(zip(KINDS, FIELD_TYPES, strict=True))

# The forms a value is matched in.
RAW = 0  # as received (still percent-encoded where the protocol encodes)
NORM = 1  # decoded until stable, NUL-free, overlong UTF-8 resolved
MARKUP = 2  # NORM with HTML entities and JavaScript escapes undone
VARIANTS = (RAW, NORM, MARKUP)


def slot(kind: int, variant: int) -> int:
    """Bit position of a (kind, variant) pair in a pattern's mask."""
    return kind * len(VARIANTS) + variant


@dataclass(slots=True)
class Request:
    """One HTTP request as Envoy (or the command line) hands it to the engine."""

    method: str
    target: str  # raw request target: path and query, percent-encoded
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    remote_ip: str = "127.0.0.1"
    id: str = ""

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitively."""
        lowered = name.lower()
        # Lengths first, as checks ask for headers many times per request. Lower-casing keeps
        # the length of any name that lower-cases to ASCII, so for an ASCII name nothing is
        # missed (`İ` grows, but into a non-ASCII pair).
        size = len(lowered) if lowered.isascii() else -1
        for key, value in self.headers:
            if (size < 0 or len(key) == size) and key.lower() == lowered:
                return value
        return None

    @classmethod
    def from_json(cls, obj: Any) -> Request:
        """Build a request from the `inspect` input format; raises ValueError when malformed."""
        if not isinstance(obj, dict):
            raise ValueError("request must be a JSON object")
        method = obj.get("method", "GET")
        target = obj.get("path", "/")
        if not isinstance(method, str) or not method:
            raise ValueError("method must be a non-empty string")
        if not isinstance(target, str) or not target:
            raise ValueError("path must be a non-empty string")
        headers = obj.get("headers") or []
        if not isinstance(headers, list) or not all(
            isinstance(h, list | tuple) and len(h) == 2 and all(isinstance(x, str) for x in h)
            for h in headers
        ):
            raise ValueError("headers must be a list of [name, value] string pairs")
        body_text = obj.get("body")
        body: bytes | None = None
        if body_text is not None:
            if not isinstance(body_text, str):
                raise ValueError("body must be a string or null")
            if obj.get("body_b64"):
                try:
                    body = base64.b64decode(body_text, validate=True)
                except binascii.Error as exc:
                    raise ValueError(f"body is not valid base64: {exc}") from None
            else:
                body = body_text.encode("utf-8", "surrogateescape")
        remote_ip = obj.get("remote_ip", "127.0.0.1")
        return cls(
            method=method,
            target=target,
            headers=[(str(k), str(v)) for k, v in headers],
            body=body,
            remote_ip=remote_ip if isinstance(remote_ip, str) else "127.0.0.1",
            id=str(obj.get("id", "")),
        )
