"""The Envoy configuration the operator renders is valid for Envoy itself: every kind of listener,
match, filter and backend, checked with `envoy --mode validate` (after conversion to the
protobufs xDS sends)."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import json_format
from world_builders import basic_world, gateway, obj, policy, route, service

from airlock_microgateway.envoy_config import build_sidecar_cluster
from airlock_microgateway.gateway import envoy_binary
from airlock_operator.controller import engine_messages
from airlock_operator.reconcile import compute
from airlock_operator.xds_server import CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE


def self_signed(hostname: str) -> tuple[str, str]:
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def everything_world():
    cert, key = self_signed("shop.example.com")
    listeners = [
        {"name": "http", "port": 8080, "protocol": "HTTP"},
        {
            "name": "https",
            "port": 8443,
            "protocol": "HTTPS",
            "hostname": "shop.example.com",
            "tls": {"certificateRefs": [{"name": "shop-tls"}]},
        },
    ]
    params = policy("GatewayParameters", "regex", features={"httpRouteRegexPathMatchEnabled": True})
    backend = {"name": "backend", "port": 80}
    rules = [
        {
            "matches": [{"path": {"type": "Exact", "value": "/login"}, "method": "POST"}],
            "backendRefs": [backend],
        },
        {
            "matches": [{"path": {"type": "RegularExpression", "value": "/api/v[0-9]+/.*"}}],
            "backendRefs": [backend],
        },
        {
            "matches": [
                {
                    "path": {"type": "PathPrefix", "value": "/v1/"},
                    "headers": [{"name": "x-env", "type": "RegularExpression", "value": "te.*"}],
                    "queryParams": [{"name": "debug", "value": "1"}],
                }
            ],
            "filters": [
                {
                    "type": "RequestHeaderModifier",
                    "requestHeaderModifier": {
                        "set": [{"name": "x-a", "value": "1"}],
                        "add": [{"name": "x-b", "value": "2"}],
                        "remove": ["x-c"],
                    },
                },
                {
                    "type": "ResponseHeaderModifier",
                    "responseHeaderModifier": {"set": [{"name": "x-d", "value": "3"}]},
                },
                {
                    "type": "URLRewrite",
                    "urlRewrite": {
                        "hostname": "internal.local",
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"},
                    },
                },
            ],
            "backendRefs": [{**backend, "weight": 2}, {"name": "missing", "port": 80}],
        },
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}],
            "filters": [
                {
                    "type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}},
                }
            ],
            "backendRefs": [backend],
        },
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
            "filters": [
                {
                    "type": "RequestRedirect",
                    "requestRedirect": {
                        "scheme": "https",
                        "hostname": "shop.example.com",
                        "port": 443,
                        "statusCode": 301,
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"},
                    },
                }
            ],
        },
        {
            "matches": [{"path": {"type": "Exact", "value": "/gone"}}],
            "timeouts": {"request": "1m30s"},
            "backendRefs": [{"name": "nowhere", "port": 80}],
        },
    ]
    pem = base64.b64encode
    world = basic_world(
        params,
        obj(
            "v1",
            "Secret",
            "shop-tls",
            "apps",
            data={"tls.crt": pem(cert.encode()).decode(), "tls.key": pem(key.encode()).decode()},
        ),
        obj(
            "v1",
            "Service",
            "ext",
            "apps",
            spec={"type": "ExternalName", "externalName": "example.org", "ports": [{"port": 443}]},
        ),
        service("other"),
        policy(
            "ContentSecurityPolicy",
            "shop",
            targetRefs=[{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web"}],
            secured={"headerRewritesRef": {"name": "hr"}},
        ),
        policy(
            "HeaderRewrites",
            "hr",
            response={"add": {"custom": [{"name": "X-Shop", "value": "yes"}]}},
        ),
        route(
            "open",
            rules=[{"backendRefs": [{"name": "other", "port": 80}]}],
            hostnames=["shop.example.com"],
        ),
        policy(
            "ContentSecurityPolicy",
            "open",
            targetRefs=[
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "open"}
            ],
            unsecured={},
        ),
    )
    world.put(
        "Gateway",
        gateway(
            listeners=listeners,
            infrastructure={
                "parametersRef": {
                    "group": "microgateway.airlock.com",
                    "kind": "GatewayParameters",
                    "name": "regex",
                }
            },
        ),
    )
    world.put("HTTPRoute", route(rules=rules))
    return world  # fmt: skip


def static_bootstrap(messages: dict[str, list[Any]]) -> dict[str, Any]:
    """The served resources as one static bootstrap: the RDS references replaced by the route
    configurations they name."""
    as_dict = {
        t: [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in ms]
        for t, ms in messages.items()
    }
    routes = {r["name"]: r for r in as_dict[ROUTE_TYPE]}
    listeners = copy.deepcopy(as_dict[LISTENER_TYPE])
    for listener in listeners:
        for chain in listener["filter_chains"]:
            manager = chain["filters"][0]["typed_config"]
            route_config = routes[manager.pop("rds")["route_config_name"]]
            # As over RDS, where unknown clusters are allowed (they answer 500 at run time).
            manager["route_config"] = {**route_config, "validate_clusters": False}
    return {
        "static_resources": {
            "listeners": listeners,
            "clusters": [*as_dict[CLUSTER_TYPE], build_sidecar_cluster(["/tmp/airlock-x.sock"])],
        }
    }


def test_everything_the_operator_renders_is_valid_for_envoy(tmp_path: Path) -> None:
    outcome = compute(everything_world(), lambda node: True, "2026-11-26T00:00:00Z")
    engine = outcome.engines["apps/gw"]
    assert len(engine.resources.listeners) == 2  # HTTP and HTTPS, both served
    messages = engine_messages(engine)
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(static_bootstrap(messages)))
    out = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--disable-hot-restart", "-l", "error"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    names = {c.name for c in messages[CLUSTER_TYPE]}
    assert names == {"apps/backend/80", "apps/other/80"}
