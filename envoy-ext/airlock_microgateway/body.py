"""Request bodies that arrive in chunks: what to keep for inspection, and when a limit is crossed.

Envoy hands the sidecar a body of known, small length in one piece (BUFFERED mode). Anything
else (chunked uploads, large bodies) is STREAMED: every chunk is passed on as it arrives and only
the last one is held until the engine has decided, so the upstream never receives a complete
request that should have been blocked. Memory per request stays bounded by what the engine
can inspect anyway:

- form and JSON bodies are kept up to their limit (one byte more, so the engine reports the
  limit exactly);
- multipart bodies are reduced to their skeleton: delimiters, part headers and the values of
  non-file parts; file contents are application data the engine does not scan;
- other bodies are kept up to the size the engine inspects of them (parameter.bodySize).

Every byte is counted against the body size limit of its parser while it streams.
"""

from __future__ import annotations

import re

from airlock_filters.errors import LimitExceeded
from airlock_filters.policy import Limits

# Longest part header block of a streamed multipart body; longer ones are not a browser upload
# and the skeleton keeps them truncated, so the engine blocks them as unparsable.
PART_HEADERS_CAP = 16 * 2**10

_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_FILENAME_RE = re.compile(rb"filename\*?\s*=", re.I)


def body_limit(limits: Limits, parser: str | None) -> tuple[str, int | None]:
    """(limit name, bytes) that a body for `parser` must stay within; None when unlimited."""
    if not limits.enabled:
        return "general.bodySize", None
    if parser == "form":
        return "parameter.bodySize", min(limits.param_body_size, limits.body_size)
    if parser == "json":
        return "json.bodySize", min(limits.json_body_size, limits.body_size)
    if parser == "multipart":
        return "multipart.bodySize", min(limits.multipart_body_size, limits.body_size)
    return "general.bodySize", limits.body_size


class BodyCollector:
    """Collects a streamed body: `feed` each chunk, then `body()` is what the engine inspects."""

    def __init__(self, limits: Limits, parser: str | None, boundary: bytes | None) -> None:
        self.limit_name, self.limit = body_limit(limits, parser)
        self.size = 0
        self._parser = parser
        self._kept = bytearray()
        if parser in ("form", "json"):
            self._keep = (self.limit + 1) if self.limit is not None else None
        else:
            self._keep = limits.param_body_size
        self._multipart = (
            MultipartSkeleton(boundary, limits.param_value_length + 1)
            if parser == "multipart" and boundary
            else None
        )

    def over_limit(self, size: int) -> LimitExceeded | None:
        """The limit a body of `size` bytes is over, if any."""
        if self.limit is not None and size > self.limit:
            return LimitExceeded(self.limit_name, f"body is larger than {self.limit}")
        return None

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk; raises LimitExceeded as soon as the body is over its limit."""
        self.size += len(chunk)
        exceeded = self.over_limit(self.size)
        if exceeded is not None:
            raise exceeded
        if self._multipart is not None:
            self._multipart.feed(chunk)
        elif self._keep is None or len(self._kept) < self._keep:
            room = len(chunk) if self._keep is None else self._keep - len(self._kept)
            self._kept += chunk[:room]

    def body(self) -> bytes:
        if self._multipart is not None:
            return self._multipart.finish()
        return bytes(self._kept)


class MultipartSkeleton:
    """A multipart body without its file contents, built incrementally.

    The output is itself a multipart body with the same delimiters, part headers and non-file
    values (each cut after `value_cap` bytes, enough for the engine to see a value over its
    length limit), so the engine parses it exactly as it would parse the whole body.
    """

    def __init__(self, boundary: bytes, value_cap: int) -> None:
        self._marker = b"\n--" + boundary
        self._value_cap = value_cap
        self._out = bytearray()
        self._part = bytearray()  # kept bytes of the current part (after its delimiter)
        self._cap: int | None = PART_HEADERS_CAP  # until its headers are complete
        self._in_preamble = True
        # A virtual newline lets a delimiter at the very start of the body match the marker.
        self._tail = b"\n"

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk
        position = 0
        while (at := data.find(self._marker, position)) >= 0:
            self._part_bytes(data[position:at])
            self._end_part()
            self._out += self._marker
            position = at + len(self._marker)
        # The tail may hold the beginning of a marker split across chunks.
        keep_from = max(position, len(data) - len(self._marker) + 1)
        self._part_bytes(data[position:keep_from])
        self._tail = data[keep_from:]

    def finish(self) -> bytes:
        self._part_bytes(self._tail)
        self._tail = b""
        self._end_part()
        return bytes(self._out)

    def _part_bytes(self, data: bytes) -> None:
        if self._in_preamble or not data:
            return
        if self._cap is None:
            self._part += data
            return
        room = self._cap - len(self._part)
        if room > 0:
            self._part += data[:room]
        if self._cap == PART_HEADERS_CAP:
            self._headers_complete()

    def _headers_complete(self) -> None:
        """Once the part headers are in, cap the part: headers only for a file, headers plus
        the value (to its cap) otherwise."""
        end = _HEADER_END_RE.search(self._part)
        if end is None:
            return
        is_file = _FILENAME_RE.search(self._part, 0, end.start()) is not None
        self._cap = end.end() + (0 if is_file else self._value_cap)
        del self._part[self._cap :]

    def _end_part(self) -> None:
        if not self._in_preamble:
            self._out += self._part
        self._in_preamble = False
        self._part = bytearray()
        self._cap = PART_HEADERS_CAP
