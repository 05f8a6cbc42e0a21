"""Streamed bodies, the block page and the Envoy configuration (checked by Envoy itself)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock_filters.engine import Engine
from airlock_filters.errors import LimitExceeded
from airlock_filters.policy import load_limits
from airlock_filters.request import Request
from airlock_microgateway.blocking import block_page
from airlock_microgateway.body import BodyCollector, MultipartSkeleton
from airlock_microgateway.envoy_config import Route, Upstream, build_bootstrap
from airlock_microgateway.gateway import envoy_binary
from airlock_microgateway.header_rewrites import HeaderRewrites

ENGINE = Engine()


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: bytes = b"QxB") -> bytes:
    out = b"preamble\r\n"
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        out += value + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def _decide(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    request = Request(
        "POST", "/up", [("host", "h"), ("content-type", "multipart/form-data; boundary=QxB")], body
    )
    decision = ENGINE.inspect(request)
    return decision.action, sorted((m.rule_id, m.field_name) for m in decision.matches)


PART = st.tuples(
    st.sampled_from(["title", "comment", "q"]),
    st.one_of(st.none(), st.sampled_from(["a.png", "report.pdf"])),
    st.sampled_from([b"hello", b"<script>alert(1)</script>", b"1' OR '1'='1", b"\x00\x01" * 3000,
                     b"--QxB not a delimiter", b"line\r\n\r\nbreaks", b"A" * 20000]),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(PART, min_size=1, max_size=4), st.integers(1, 5000))
def test_multipart_skeleton_gets_the_same_decision(parts, chunk: int) -> None:
    """File contents aside, the skeleton is judged exactly as the whole body, however the
    body is cut into chunks."""
    body = _multipart(parts)
    skeleton = MultipartSkeleton(b"QxB", 8 * 2**10 + 1)
    for i in range(0, len(body), chunk):
        skeleton.feed(body[i : i + chunk])
    without_files = _multipart([(n, f, b"" if f else v) for n, f, v in parts])
    assert _decide(skeleton.finish()) == _decide(without_files)


def test_collector_keeps_what_the_engine_inspects_and_counts_everything() -> None:
    limits = load_limits({})
    json_body = BodyCollector(limits, "json", None)
    json_body.feed(b"x" * 1000)
    assert json_body.body() == b"x" * 1000
    with pytest.raises(LimitExceeded, match="json.bodySize"):
        json_body.feed(b"x" * (100 * 2**10))
    other = BodyCollector(limits, None, None)
    other.feed(b"y" * (300 * 2**10))
    assert len(other.body()) == limits.param_body_size  # as much as the engine reads
    assert other.size == 300 * 2**10


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", "application/json"),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html; charset=utf-8",
        ),
        ("text/plain, application/json;q=0.5", "text/plain; charset=utf-8"),
        ("application/json;q=0.1, text/html", "text/html; charset=utf-8"),
        (None, "text/html; charset=utf-8"),
        ("image/png", "text/plain; charset=utf-8"),
    ],
)
def test_block_page_format_follows_accept(accept: str | None, expected: str) -> None:
    content_type, body = block_page(accept, "req-<42>")
    assert content_type == expected
    if expected == "application/json":
        assert json.loads(body)["request_id"] == "req-<42>"
    elif expected.startswith("text/html"):
        assert b"req-&lt;42&gt;" in body  # escaped, never markup from the request
    else:
        assert b"req-<42>" in body


def test_bootstrap_is_accepted_by_envoy_and_fails_closed(tmp_path: Path) -> None:
    rewrites = HeaderRewrites.from_spec(None)
    bootstrap = build_bootstrap(
        ("127.0.0.1", 8080),
        ("127.0.0.1", 9901),
        [Upstream.from_url("app", "https://app.example:8443")],
        [Route("/open", "app", None), Route("/", "app", "shop", rewrites)],
        ["/run/airlock/extproc-0.sock", "/run/airlock/extproc-1.sock"],
    )
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(bootstrap))
    out = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--disable-hot-restart", "-l", "error"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr

    manager = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"
    ]
    ext_proc = manager["http_filters"][0]["typed_config"]
    assert ext_proc["failure_mode_allow"] is False and ext_proc["message_timeout"]
    assert manager["http_filters"][-1]["name"] == "envoy.filters.http.router"
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    open_route, shop_route = routes
    assert open_route["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["disabled"] is True
    metadata = shop_route["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["overrides"][
        "grpc_initial_metadata"
    ]
    assert metadata == [{"key": "x-airlock-policy", "value": "shop"}]
    assert "server" in shop_route["response_headers_to_remove"]
    sidecar = bootstrap["static_resources"]["clusters"][0]
    assert sidecar["common_lb_config"]["healthy_panic_threshold"]["value"] == 0
