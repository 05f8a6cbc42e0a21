"""A small echo service: the upstream of the local gateway when none is given, and of the tests.

Every request is answered 200 with a JSON description of what arrived (method, target, headers,
body size and SHA-256, and the body itself when it is short text), and is recorded in
`EchoUpstream.seen` so tests can check what reached the application.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ECHO_BODY_LIMIT = 64 * 2**10


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Envoy's access log has every request

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _echo(self) -> None:
        body = self._read_body()
        seen = Seen(self.command, self.path, list(self.headers.items()), body)
        self.server.seen.append(seen)
        reply: dict[str, Any] = {
            "method": seen.method,
            "path": seen.target,
            "headers": seen.headers,
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        if len(body) <= ECHO_BODY_LIMIT:
            reply["body"] = body.decode("utf-8", "replace")
        payload = json.dumps(reply).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in self.server.response_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _echo


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]
    response_headers: list[tuple[str, str]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up before its answer (Envoy resetting a stream whose response
        # was blocked, a timeout) is not the upstream's error: no traceback on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class EchoUpstream:
    """The echo service on host:port (port 0 picks a free one), served by a thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        response_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.seen = []
        self._server.response_headers = list(response_headers or [])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]!s}:{self.port}"

    @property
    def seen(self) -> list[Seen]:
        return self._server.seen

    def start(self) -> EchoUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
