"""HeaderRewrites: the spec, the sidecar's request changes, the response semantics, and the same
response semantics produced by a real Envoy from `envoy_native()` and the generated Lua."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock_filters.errors import PolicyError
from airlock_filters.policy import RequestContext
from airlock_filters.resources import HEADER_REWRITES_SPEC
from airlock_microgateway.header_rewrites import (
    ALTERNATIVE_FORWARDED_HEADERS,
    STANDARD_REQUEST_HEADERS,
    HeaderChanges,
    HeaderRewrites,
    apply_changes,
    challenge_schemes,
)

REFERENCE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "airlock-api-reference"
    / "headerrewrites.microgateway.airlock.com.yaml"
)
ENVOY = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/envoy/_bin/envoy"


def ctx(
    path: str = "/", headers: list[tuple[str, str]] | None = None, method: str = "GET"
) -> RequestContext:
    return RequestContext(method, path, headers or [], "10.0.0.1", "")


def request_result(
    rw: HeaderRewrites, headers: list[tuple[str, str]], path: str = "/"
) -> list[tuple[str, str]]:
    return apply_changes(headers, rw.request_changes(headers, ctx(path, headers)))


def names(headers: list[tuple[str, str]]) -> set[str]:
    return {n.lower() for n, _ in headers}


def exact(text: str, **extra: Any) -> dict[str, Any]:
    return {"matcher": {"exact": text, **extra}}


# --- Spec ----------------------------------------------------------------------------------------

DEFAULTS = {
    "request": {
        "allow": {"matchingHeaders": {"builtIn": {"standardHeaders": True, "tracingHeaders": False}}},
        "remove": {"builtIn": {"alternativeForwardedHeaders": True}},
        "add": {},
    },
    "response": {
        "allow": {"allHeaders": {}},
        "remove": {
            "builtIn": {
                "informationLeakage": {"server": True, "application": True},
                "permissiveCors": True,
                "auth": {"ntlm": True, "negotiate": True, "basic": False},
            }
        },
        "add": {
            "builtIn": {
                "hsts": True, "hstsPreload": False, "xFrameOptions": True, "xContentTypeOptions": True,
                "referrerPolicy": True, "permissionsPolicy": True, "csp": False, "featurePolicy": False,
            }
        },
    },
    "settings": {"operationalMode": "Production"},
}  # fmt: skip


def test_empty_spec_gives_documented_defaults() -> None:
    assert HEADER_REWRITES_SPEC.load({}, "spec") == DEFAULTS
    assert HEADER_REWRITES_SPEC.load(None, "spec") == DEFAULTS
    explicit_all = HEADER_REWRITES_SPEC.load({"request": {"allow": {"allHeaders": {}}}}, "spec")
    assert explicit_all["request"]["allow"] == {"allHeaders": {}}
    assert (
        HeaderRewrites.from_spec(None).envoy_native() == HeaderRewrites.from_spec({}).envoy_native()
    )


def _shape(node: dict[str, Any]) -> dict[str, Any]:
    """What decides which documents a schema accepts and how it defaults scalars."""
    keys = ("type", "enum", "pattern", "minLength", "maxLength", "minItems", "maxItems")
    out: dict[str, Any] = {k: node[k] for k in keys if k in node}
    out["required"] = sorted(node.get("required", []))
    if "default" in node and node.get("type") != "object":
        out["default"] = node["default"]
    if "properties" in node:
        out["properties"] = {k: _shape(v) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = _shape(node["items"])
    return out


def test_openapi_accepts_the_reference_documents() -> None:
    reference = yaml.safe_load(REFERENCE.read_text())["spec"]["versions"][0]["schema"]
    assert _shape(HEADER_REWRITES_SPEC.openapi()) == _shape(
        reference["openAPIV3Schema"]["properties"]["spec"]
    )


def test_openapi_defaults_pick_one_allow_branch_and_keep_names_unique() -> None:
    schema = HEADER_REWRITES_SPEC.openapi()["properties"]
    assert schema["request"]["properties"]["allow"]["default"] == {"matchingHeaders": {}}
    assert schema["response"]["properties"]["allow"]["default"] == {"allHeaders": {}}
    custom = schema["request"]["properties"]["remove"]["properties"]["custom"]
    assert custom["x-kubernetes-list-map-keys"] == ["name"]


ADD = {"name": "a", "headers": [{"name": "X-A", "value": "1"}]}
CONDITION = {"path": {"matcher": {"prefix": "/api"}}}


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"request": {"allow": {"someHeaders": {}}}}, "spec.request.allow.someHeaders"),
        ({"request": {"allow": {"allHeaders": {}, "matchingHeaders": {}}}}, "spec.request.allow"),
        ({"request": {"add": {"custom": [{**ADD, "mode": "Append"}]}}}, "spec.request.add.custom[0].mode"),
        ({"request": {"add": {"custom": [ADD, ADD]}}}, "spec.request.add.custom[1].name"),
        ({"request": {"add": {"custom": [{"name": "a", "headers": [{"name": "X", "value": "50%"}]}]}}},
         "spec.request.add.custom[0].headers[0].value"),
        ({"request": {"add": {"custom": [{"name": "a", "headers": [{"name": "X Y", "value": "1"}]}]}}},
         "spec.request.add.custom[0].headers[0].name"),
        ({"request": {"add": {"custom": [{"name": "a", "headers": []}]}}}, "spec.request.add.custom[0].headers"),
        ({"request": {"remove": {"custom": [{"name": "r", "headers": [{}]}]}}}, "spec.request.remove.custom[0].headers[0]"),
        ({"request": {"remove": {"custom": [{"name": "r", "headers": [{"name": {"matcher": {"regex": "("}}}]}]}}},
         "spec.request.remove.custom[0].headers[0].name.matcher.regex"),
        ({"request": {"remove": {"custom": [{"name": "r", "headers": [{"name": exact("x", ignoreCase=True)}]}]}}},
         "spec.request.remove.custom[0].headers[0].name.matcher.ignoreCase"),
        ({"request": {"remove": {"custom": [{"name": "r", "headers": [{"name": exact("x")}], "requestConditions": {}}]}}},
         "spec.request.remove.custom[0].requestConditions"),
        ({"response": {"remove": {"builtIn": {"auth": {"ntlm": "yes"}}}}}, "spec.response.remove.builtIn.auth.ntlm"),
        ({"settings": {"operationalMode": "Testing"}}, "spec.settings.operationalMode"),
        # The sidecar adds conditional headers and cannot evaluate Envoy's other operators.
        ({"request": {"add": {"custom": [{"name": "a", "headers": [{"name": "X", "value": "%START_TIME%"}],
                                          "requestConditions": CONDITION}]}}},
         "spec.request.add.custom[0].headers[0].value"),
    ],
)  # fmt: skip
def test_invalid_specs_name_the_field(spec: dict[str, Any], path: str) -> None:
    with pytest.raises(PolicyError) as info:
        HeaderRewrites.from_spec(spec)
    assert info.value.path == path


def test_unconditional_add_may_use_any_command_operator() -> None:
    spec = {
        "request": {
            "add": {
                "custom": [{"name": "a", "headers": [{"name": "X-Start", "value": "%START_TIME%"}]}]
            }
        }
    }
    added = HeaderRewrites.from_spec(spec).envoy_native()["request_headers_to_add"]
    assert added == [
        {"header": {"key": "x-start", "value": "%START_TIME%"}, "append_action": "ADD_IF_ABSENT"}
    ]


# --- Request side (sidecar) -----------------------------------------------------------------

BROWSER = [
    (":method", "GET"), (":path", "/shop"), (":authority", "shop.example"), ("Host", "shop.example"),
    ("Accept", "text/html"), ("Accept-Language", "de"), ("Cookie", "s=1"), ("User-Agent", "Mozilla/5.0"),
    ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-Proto", "https"), ("Content-Type", "text/plain"),
    ("Content-Length", "0"), ("Transfer-Encoding", "chunked"), ("x-envoy-expected-rq-timeout-ms", "15000"),
]  # fmt: skip
EXTRA = [
    ("X-Custom", "1"), ("traceparent", "00-abc-def-01"), ("x-b3-traceid", "abc"), ("x-request-id", "r1"),
    ("X-Real-IP", "1.2.3.4"), ("Forwarded", "for=1.2.3.4"), ("True-Client-IP", "1.2.3.4"),
]  # fmt: skip


def test_default_request_allow_list_keeps_standard_headers_only() -> None:
    rw = HeaderRewrites.from_spec({})
    result = request_result(rw, BROWSER + EXTRA)
    assert sorted(result) == sorted((n.lower(), v) for n, v in BROWSER)
    changes = rw.request_changes(BROWSER + EXTRA, ctx())
    assert all(n == n.lower() for n in changes.remove)
    assert changes.set == []


def test_standard_request_headers_cover_the_usual_suspects() -> None:
    for name in ("accept", "authorization", "cache-control", "cookie", "if-none-match", "origin", "range",
                 "referer", "user-agent", "x-requested-with", "x-forwarded-host", "content-type"):  # fmt: skip
        assert name in STANDARD_REQUEST_HEADERS
    assert not {"x-real-ip", "forwarded", "traceparent"} & STANDARD_REQUEST_HEADERS


def test_tracing_headers_pass_when_enabled() -> None:
    spec = {"request": {"allow": {"matchingHeaders": {"builtIn": {"tracingHeaders": True}}}}}
    result = names(request_result(HeaderRewrites.from_spec(spec), BROWSER + EXTRA))
    assert {"traceparent", "x-b3-traceid", "x-request-id"} <= result
    assert not {"x-custom", "x-real-ip"} & result


def test_all_headers_still_removes_alternative_forwarded_headers() -> None:
    rw = HeaderRewrites.from_spec({"request": {"allow": {"allHeaders": {}}}})
    result = names(request_result(rw, BROWSER + EXTRA))
    assert {"x-custom", "traceparent"} <= result
    assert not {"x-real-ip", "forwarded", "true-client-ip"} & result
    native = rw.envoy_native()["request_headers_to_remove"]
    assert set(native) == set(ALTERNATIVE_FORWARDED_HEADERS)
    assert {"x-real-ip", "x-client-ip", "true-client-ip", "forwarded", "x-forwarded"} <= set(native)

    off = {
        "request": {
            "allow": {"allHeaders": {}},
            "remove": {"builtIn": {"alternativeForwardedHeaders": False}},
        }
    }
    kept = HeaderRewrites.from_spec(off)
    assert "x-real-ip" in names(request_result(kept, EXTRA))
    assert kept.envoy_native()["request_headers_to_remove"] == []


def test_custom_allow_rule_under_request_conditions() -> None:
    spec = {"request": {"allow": {"matchingHeaders": {"custom": [
        {"name": "api-key", "headers": [{"name": {"matcher": {"exact": "X-API-KEY"}}}], "requestConditions": CONDITION},
        {"name": "tenant", "headers": [{"name": {"matcher": {"prefix": "x-tenant-"}}, "value": {"matcher": {"regex": "[a-z]+"}}}]},
    ]}}}}  # fmt: skip
    rw = HeaderRewrites.from_spec(spec)
    headers = [*BROWSER, ("X-Api-Key", "k"), ("X-Tenant-Id", "acme"), ("X-Tenant-Region", "EU1")]
    assert {"x-api-key", "x-tenant-id"} <= names(request_result(rw, headers, "/api/orders"))
    assert "x-tenant-region" not in names(request_result(rw, headers, "/api/orders"))
    assert "x-api-key" not in names(request_result(rw, headers, "/shop"))


def test_custom_remove_by_value_and_by_name() -> None:
    spec = {"request": {"allow": {"allHeaders": {}}, "remove": {"custom": [
        {"name": "debug", "headers": [{"name": exact("X-Debug")}]},
        {"name": "admin-cookie", "headers": [{"name": exact("cookie"), "value": {"matcher": {"contains": "ADMIN", "ignoreCase": True}}}]},
        {"name": "internal-only", "headers": [{"name": {"matcher": {"prefix": "x-internal"}}}],
         "requestConditions": {"remoteIP": {"cidrRanges": ["10.0.0.0/8"], "invert": True}}},
    ]}}}  # fmt: skip
    rw = HeaderRewrites.from_spec(spec)
    headers = [
        ("Cookie", "s=1"),
        ("Cookie", "admin=1"),
        ("X-Debug", "1"),
        ("X-Internal-Token", "t"),
    ]
    changes = rw.request_changes(headers, ctx(headers=headers))
    # Only the matching cookie line goes: the name is removed and the other value put back.
    assert "cookie" in changes.remove and ("cookie", "s=1", False) in changes.set
    assert apply_changes(headers, changes) == [("x-internal-token", "t"), ("cookie", "s=1")]
    # The exact-name rule without conditions is Envoy's as well.
    assert "x-debug" in rw.envoy_native()["request_headers_to_remove"]
    outside = RequestContext("GET", "/", headers, "192.0.2.1", "")
    assert "x-internal-token" not in names(
        apply_changes(headers, rw.request_changes(headers, outside))
    )


def test_protected_headers_are_never_removed() -> None:
    spec = {"request": {"allow": {"matchingHeaders": {"builtIn": {"standardHeaders": False}}}, "remove": {"custom": [
        {"name": "all", "headers": [{"name": {"matcher": {"regex": ".*"}}}]},
        {"name": "host", "headers": [{"name": exact("host")}, {"name": exact("content-length")}]},
    ]}}}  # fmt: skip
    rw = HeaderRewrites.from_spec(spec)
    headers = [(":method", "POST"), (":path", "/"), ("host", "h"), ("content-length", "3"),
               ("content-type", "text/plain"), ("transfer-encoding", "chunked"), ("accept", "*/*")]  # fmt: skip
    changes = rw.request_changes(headers, ctx())
    assert changes.remove == ["accept"]
    assert "host" not in rw.envoy_native()["request_headers_to_remove"]
    assert "content-length" not in rw.envoy_native()["request_headers_to_remove"]


def test_request_adds_conditional_in_sidecar_unconditional_in_envoy() -> None:
    spec = {"request": {"add": {"custom": [
        {"name": "always", "headers": [{"name": "X-Gateway", "value": "airlock"}], "mode": "OverwriteOrAdd"},
        {"name": "api", "requestConditions": CONDITION, "headers": [
            {"name": "X-Api", "value": "yes"}, {"name": "X-User", "value": "%REQ(x-forwarded-for)% 100%%"}]},
        {"name": "api-over", "requestConditions": CONDITION, "mode": "OverwriteOrAdd",
         "headers": [{"name": "Accept", "value": "application/json"}]},
    ]}}}  # fmt: skip
    rw = HeaderRewrites.from_spec(spec)
    headers = [("Accept", "text/html"), ("X-Api", "client"), ("X-Forwarded-For", "10.1.1.1")]
    result = request_result(rw, headers, "/api/x")
    # X-Api is not a standard header: the allow-list removes the client's, then the rule adds.
    assert sorted(result) == [("accept", "application/json"), ("x-api", "yes"),
                              ("x-forwarded-for", "10.1.1.1"), ("x-user", "10.1.1.1 100%")]  # fmt: skip
    assert request_result(rw, headers, "/shop") == [
        ("accept", "text/html"),
        ("x-forwarded-for", "10.1.1.1"),
    ]
    assert rw.envoy_native()["request_headers_to_add"] == [
        {
            "header": {"key": "x-gateway", "value": "airlock"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }
    ]


def test_add_if_absent_respects_headers_that_stay() -> None:
    spec = {"request": {"add": {"custom": [{"name": "ua", "requestConditions": CONDITION,
                                            "headers": [{"name": "User-Agent", "value": "gw"}]}]}}}  # fmt: skip
    rw = HeaderRewrites.from_spec(spec)
    assert request_result(rw, [("User-Agent", "curl")], "/api") == [("user-agent", "curl")]
    assert request_result(rw, [], "/api") == [("user-agent", "gw")]


# --- Response side (reference semantics) ----------------------------------------------------

UPSTREAM = [
    ("Content-Type", "text/html"), ("Server", "Apache"), ("X-Powered-By", "PHP/8.3"),
    ("X-AspNet-Version", "4.0"), ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Credentials", "true"), ("WWW-Authenticate", "NTLM"),
    ("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", 'Bearer realm="api"'),
    ("WWW-Authenticate", 'Basic realm="x"'), ("X-Frame-Options", "DENY"), ("Set-Cookie", "a=1"),
    ("Set-Cookie", "b=2"), ("X-App", "shop"),
]  # fmt: skip


def test_default_response_changes() -> None:
    rw = HeaderRewrites.from_spec({})
    result = apply_changes(UPSTREAM, rw.response_changes(UPSTREAM))
    assert sorted(result) == sorted([
        ("content-type", "text/html"), ("www-authenticate", 'Bearer realm="api"'),
        ("www-authenticate", 'Basic realm="x"'), ("x-frame-options", "DENY"), ("set-cookie", "a=1"),
        ("set-cookie", "b=2"), ("x-app", "shop"), ("strict-transport-security", "max-age=31536000"),
        ("x-content-type-options", "nosniff"), ("referrer-policy", "same-origin"),
        ("permissions-policy", rw.envoy_native()["response_headers_to_add"][-1]["header"]["value"]),
    ])  # fmt: skip


def test_cors_with_a_named_origin_stays() -> None:
    rw = HeaderRewrites.from_spec({})
    headers = [
        ("Access-Control-Allow-Origin", "https://shop.example"),
        ("Access-Control-Allow-Credentials", "true"),
    ]
    assert not rw.response_changes(headers).remove


@pytest.mark.parametrize(
    ("value", "schemes"),
    [
        ("NTLM", {"ntlm"}),
        ("NTLM TlRMTVNTUAACAAAA", {"ntlm"}),
        ("Negotiate, NTLM", {"negotiate", "ntlm"}),
        ('Basic realm="a, b", charset="UTF-8"', {"basic"}),
        ('Bearer realm="ntlm", error="invalid_token"', {"bearer"}),
        ("Digest realm = x", {"digest"}),
        ("realm=ntlm", set()),
    ],
)
def testchallenge_schemes_of_a_challenge_line(value: str, schemes: set[str]) -> None:
    assert challenge_schemes(value) == schemes


def test_builtin_response_adds_follow_the_flags() -> None:
    spec = {"response": {"add": {"builtIn": {"hstsPreload": True, "csp": True, "featurePolicy": True,
                                             "xFrameOptions": False}}}}  # fmt: skip
    added = {
        o["header"]["key"]: (o["header"]["value"], o["append_action"])
        for o in HeaderRewrites.from_spec(spec).envoy_native()["response_headers_to_add"]
    }
    assert added["strict-transport-security"] == (
        "max-age=31536000; includeSubDomains; preload",
        "ADD_IF_ABSENT",
    )
    assert "content-security-policy" in added and "feature-policy" in added
    assert "x-frame-options" not in added


def test_default_envoy_native_fields() -> None:
    native = HeaderRewrites.from_spec({}).envoy_native()
    assert {"server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version"} <= set(
        native["response_headers_to_remove"]
    )
    assert [o["header"]["key"] for o in native["response_headers_to_add"]] == [
        "strict-transport-security", "x-frame-options", "x-content-type-options", "referrer-policy", "permissions-policy"]  # fmt: skip
    assert "envoy_on_response" in native["lua_response_source"]
    assert native["sidecar_response_headers"] is False


def test_no_lua_when_nothing_depends_on_values() -> None:
    spec = {
        "response": {
            "remove": {
                "builtIn": {"permissiveCors": False, "auth": {"ntlm": False, "negotiate": False}}
            }
        }
    }
    rw = HeaderRewrites.from_spec(spec)
    assert rw.envoy_native()["lua_response_source"] is None
    assert (
        rw.route_fields()["typed_per_filter_config"]["envoy.filters.http.lua"]["disabled"] is True
    )


ALLOW_LIST = {
    "response": {
        "allow": {"matchingHeaders": {"builtIn": {"standardHeaders": True}, "custom": [
            {"name": "app", "headers": [{"name": {"matcher": {"prefix": "x-app"}}}]},
            {"name": "ok-debug", "headers": [{"name": exact("x-debug"), "value": exact("ok")}]},
        ]}},
        "remove": {
            "builtIn": {"auth": {"basic": True}},
            "custom": [
                {"name": "secret-cookie", "headers": [{"name": exact("set-cookie"), "value": {"matcher": {"prefix": "SECRET", "ignoreCase": True}}}]},
                {"name": "quote", "headers": [{"name": {"matcher": {"prefix": "X-Quo"}}, "value": exact('say "hi"\t\\ bye')}]},
            ],
        },
        "add": {
            "builtIn": {"csp": True},
            "custom": [
                {"name": "gw", "headers": [{"name": "X-Gateway", "value": "100%% airlock"}]},
                {"name": "frame", "mode": "OverwriteOrAdd", "headers": [{"name": "X-Frame-Options", "value": "DENY"}]},
                {"name": "cors", "headers": [{"name": "Access-Control-Allow-Origin", "value": "https://a.example"}]},
            ],
        },
    }
}  # fmt: skip


def test_additions_the_lua_might_remove_are_completed_by_the_lua() -> None:
    rw = HeaderRewrites.from_spec(ALLOW_LIST)
    native = rw.envoy_native()
    keys = [o["header"]["key"] for o in native["response_headers_to_add"]]
    # Standard security headers pass the allow-list: Envoy adds them directly. X-Gateway and the
    # CORS header could be removed by the Lua: they wait in pending headers.
    assert "x-frame-options" in keys and "content-security-policy" in keys
    assert "x-gateway" not in keys and "access-control-allow-origin" not in keys
    pending = [k for k in keys if k.startswith("x-airlock-pending-add-")]
    assert len(pending) == 2 and set(pending) <= set(native["response_headers_to_remove"])
    headers = [("X-Gateway", "upstream"), ("X-App-Id", "7"), ("X-Debug", "no"), ("X-Other", "1"),
               ("Access-Control-Allow-Origin", "*"), ("Set-Cookie", "secret=1"), ("Set-Cookie", "a=1")]  # fmt: skip
    result = apply_changes(headers, rw.response_changes(headers))
    assert ("x-gateway", "100% airlock") in result  # the upstream's was not allowed
    assert ("access-control-allow-origin", "https://a.example") in result
    assert ("set-cookie", "a=1") in result and ("set-cookie", "secret=1") not in result
    assert not {"x-debug", "x-other"} & names(result)


def test_rules_lua_cannot_run_move_the_response_to_the_sidecar() -> None:
    spec = {"response": {"remove": {"custom": [
        {"name": "api", "requestConditions": CONDITION, "headers": [{"name": exact("x-internal")}]},
    ]}, "add": {"custom": [{"name": "a", "headers": [{"name": "X-Path", "value": "%REQ(:path)%"}]}]}}}  # fmt: skip
    rw = HeaderRewrites.from_spec(spec)
    native = rw.envoy_native()
    assert native["sidecar_response_headers"] is True
    assert native["lua_response_source"] is None and native["response_headers_to_add"] == []
    assert "server" in native["response_headers_to_remove"]
    request = ctx("/api/v1", [(":path", "/api/v1")])
    result = apply_changes(
        [("X-Internal", "1")], rw.response_changes([("X-Internal", "1")], request)
    )
    assert ("x-path", "/api/v1") in result and "x-internal" not in names(result)
    assert "x-internal" in names(
        apply_changes(
            [("X-Internal", "1")], rw.response_changes([("X-Internal", "1")], ctx("/shop"))
        )
    )

    regex = {
        "response": {
            "remove": {
                "custom": [{"name": "r", "headers": [{"value": {"matcher": {"regex": "v[0-9]+"}}}]}]
            }
        }
    }
    assert HeaderRewrites.from_spec(regex).sidecar_response_headers is True


def test_log_only_changes_nothing_in_envoy() -> None:
    rw = HeaderRewrites.from_spec({"settings": {"operationalMode": "LogOnly"}})
    native = rw.envoy_native()
    assert not rw.enforced and native["sidecar_response_headers"] is True
    assert not any(native[k] for k in native if k != "sidecar_response_headers")
    # What would change is still known, for the log.
    assert rw.response_changes([("Server", "Apache")]).remove == ["server"]


def test_header_changes_is_falsy_when_empty() -> None:
    assert not HeaderChanges()
    assert HeaderChanges(remove=["x"])


# --- A real Envoy ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Upstream:
    """A tiny origin: answers with `response_headers`, remembers the request headers it saw."""

    def __init__(self) -> None:
        self.response_headers: list[tuple[str, str]] = []
        self.seen: list[tuple[str, str]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                upstream.seen = [(n.lower(), v) for n, v in self.headers.items()]
                body = b"ok"
                self.send_response_only(200)  # no automatic Server or Date header
                for name, value in upstream.response_headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ROUTES = {
    "/default/": {},
    "/allow-list/": ALLOW_LIST,
    "/plain/": {"request": {"add": {"custom": [
        {"name": "client", "headers": [{"name": "X-Client", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}]}]}},
        "response": {"remove": {"builtIn": {"permissiveCors": False, "auth": {"ntlm": False, "negotiate": False}}}}},
}  # fmt: skip


def bootstrap(port: int, admin_port: int, upstream_port: int) -> dict[str, Any]:
    routes = []
    for prefix, spec in ROUTES.items():
        route = {"match": {"prefix": prefix}, "route": {"cluster": "upstream"}}
        routes.append({**route, **HeaderRewrites.from_spec(spec).route_fields()})
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "test",
        "server_header_transformation": "PASS_THROUGH",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
        "http_filters": [
            {"name": "envoy.filters.http.lua",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"}},
            {"name": "envoy.filters.http.router",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                              "suppress_envoy_headers": True}},
        ],
    }  # fmt: skip
    endpoint = {
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "main",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
            }],
            "clusters": [{
                "name": "upstream", "type": "STATIC", "connect_timeout": "5s",
                "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}]},
            }],
        },
    }  # fmt: skip


def wait_ready(process: subprocess.Popen[bytes], admin_port: int, log: Path) -> None:
    deadline = time.monotonic() + 120  # a generous bound on start-up, not a speed assertion
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Envoy exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{admin_port}/ready", timeout=2
            ) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Envoy did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Upstream]]:
    upstream = Upstream()
    port, admin_port = free_port(), free_port()
    work = tmp_path_factory.mktemp("envoy")
    config = work / "envoy.json"
    config.write_text(json.dumps(bootstrap(port, admin_port, upstream.port)))
    log = work / "envoy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ENVOY), "-c", str(config), "--disable-hot-restart", "-l", "warning",
             "--concurrency", "1"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_ready(process, admin_port, log)
        yield port, upstream
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        upstream.close()


def fetch(port: int, path: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        return response.getheaders()
    finally:
        connection.close()


TRANSPORT = {"date", "content-length", "connection", "keep-alive", "transfer-encoding"}


def visible(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((n.lower(), v) for n, v in headers if n.lower() not in TRANSPORT)


@pytest.mark.parametrize(
    ("prefix", "upstream_headers"),
    [
        ("/default/", UPSTREAM),
        ("/default/", [("Access-Control-Allow-Origin", "https://a.example"), ("Access-Control-Allow-Credentials", "true"),
                       ("Strict-Transport-Security", "max-age=60"), ("WWW-Authenticate", "Negotiate, NTLM")]),
        ("/allow-list/", [*UPSTREAM, ("X-Gateway", "upstream"), ("X-Debug", "ok"), ("X-Debug", "no"),
                          ("Set-Cookie", "Secret=1"), ("X-Quote", 'say "hi"\t\\ bye'), ("X-Quote", "other"),
                          ("x-airlock-pending-add-0", "smuggled")]),
        ("/plain/", UPSTREAM),
    ],
)  # fmt: skip
def test_envoy_produces_the_predicted_response_headers(
    gateway: tuple[int, Upstream], prefix: str, upstream_headers: list[tuple[str, str]]
) -> None:
    port, upstream = gateway
    upstream.response_headers = upstream_headers
    received = fetch(port, prefix + "page", [])
    rewrites = HeaderRewrites.from_spec(ROUTES[prefix])
    predicted = apply_changes(upstream_headers, rewrites.response_changes(upstream_headers))
    assert visible(received) == visible(predicted)


def test_envoy_removes_alternative_forwarded_headers_before_the_upstream(
    gateway: tuple[int, Upstream],
) -> None:
    port, upstream = gateway
    upstream.response_headers = []
    fetch(port, "/plain/x", [("X-Real-IP", "6.6.6.6"), ("Forwarded", "for=6.6.6.6"), ("True-Client-IP", "6.6.6.6"),
                             ("X-Client-IP", "6.6.6.6"), ("X-Custom", "kept"), ("Accept", "*/*")])  # fmt: skip
    seen = dict(upstream.seen)
    assert not {"x-real-ip", "forwarded", "true-client-ip", "x-client-ip"} & set(seen)
    assert seen["x-custom"] == "kept" and seen["accept"] == "*/*"  # the allow-list is the sidecar's
    assert seen["x-client"] == "127.0.0.1"  # a command operator Envoy evaluated
