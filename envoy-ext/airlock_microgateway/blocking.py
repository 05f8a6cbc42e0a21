"""The response a blocked client gets: 400, in the format its Accept header asks for."""

from __future__ import annotations

import html
import json

_TITLE = "Request blocked"
_TEXT = "The request was blocked by the web application firewall."


def _wants(accept: str, media_type: str) -> float:
    """The q-value `accept` gives `media_type` (exact or type/* only; */* counts for nothing,
    so a browser's `text/html,...,*/*` still gets HTML)."""
    best = 0.0
    major = media_type.split("/")[0]
    for item in accept.lower().split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip()
        if name not in (media_type, f"{major}/*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def block_page(accept: str | None, request_id: str, status: int = 400) -> tuple[str, bytes]:
    """(content type, body) of the block response."""
    accept = accept or ""
    choices = {
        "application/json": _wants(accept, "application/json"),
        "text/html": _wants(accept, "text/html"),
        "text/plain": _wants(accept, "text/plain"),
    }
    chosen = max(choices, key=lambda media: choices[media])
    if choices[chosen] <= 0:
        chosen = "text/html" if not accept else "text/plain"
    if chosen == "application/json":
        body = {"status": status, "title": _TITLE, "detail": _TEXT, "request_id": request_id}
        return "application/json", json.dumps(body).encode() + b"\n"
    if chosen == "text/html":
        rid = html.escape(request_id)
        page = (
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{_TITLE}</title></head>'
            f"<body><h1>{_TITLE}</h1><p>{_TEXT}</p><p>Request ID: <code>{rid}</code></p>"
            "</body></html>\n"
        )
        return "text/html; charset=utf-8", page.encode()
    return "text/plain; charset=utf-8", f"{_TITLE}. {_TEXT}\nRequest ID: {request_id}\n".encode()
