"""Envoy configuration of a protected engine, as plain JSON-ready dicts.

Pure `build_*` functions: the local gateway writes their result as a static bootstrap, and the
operator serves the same listener, route and cluster objects over xDS.

What is done where:
- the ext_proc filter sends request headers to the sidecar and nothing else by default; the
  sidecar asks for the body when there is one. failure_mode_allow is false: if the sidecar is
  down, slow (message_timeout) or fails, the client gets a 5xx and the upstream nothing.
- each route names its policy in the gRPC initial metadata of the ext_proc stream;
  an unsecured route disables ext_proc.
- header rewrites Envoy can do by name are route fields; value-dependent response removals run
  in a small per-route Lua script; the request allow-list needs the sidecar (it sees all names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airlock_microgateway.header_rewrites import HeaderRewrites
from airlock_microgateway.processor import BUFFER_LIMIT, FILTER_NAMESPACE
from airlock_microgateway.service import POLICY_METADATA, SERVICE_NAME

SIDECAR_CLUSTER = "airlock_sidecar"
LISTENER_NAME = "airlock_http"
ROUTE_CONFIG_NAME = "airlock_routes"
LUA_FILTER = "envoy.filters.http.lua"
MESSAGE_TIMEOUT = "2s"

_T = "type.googleapis.com/"
_LUA_PER_ROUTE = "envoy.extensions.filters.http.lua.v3.LuaPerRoute"

# Request headers only; the sidecar asks for the body when a request has one.
PROCESSING_MODE = {
    "request_header_mode": "SEND",
    "response_header_mode": "SKIP",
    "request_body_mode": "NONE",
    "response_body_mode": "NONE",
    "request_trailer_mode": "SKIP",
    "response_trailer_mode": "SKIP",
}

# One JSON line per request on stdout, ECS field names; the query string is never logged.
ACCESS_LOG_FORMAT = {
    "@timestamp": "%START_TIME%",
    "log.level": "info",
    "event.dataset": "airlock.microgateway.access",
    "http.request.method": "%REQ(:METHOD)%",
    "url.path": "%REQ_WITHOUT_QUERY(:PATH)%",
    "http.request.id": "%REQ(X-REQUEST-ID)%",
    "http.response.status_code": "%RESPONSE_CODE%",
    "http.response.body.bytes": "%BYTES_SENT%",
    "http.request.body.bytes": "%BYTES_RECEIVED%",
    "event.duration_ms": "%DURATION%",
    "source.ip": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "user_agent.original": "%REQ(USER-AGENT)%",
    "network.protocol": "%PROTOCOL%",
    "airlock.response_flags": "%RESPONSE_FLAGS%",
    "airlock.response_details": "%RESPONSE_CODE_DETAILS%",
    "airlock.upstream": "%UPSTREAM_HOST%",
}


@dataclass(frozen=True)
class Upstream:
    name: str
    host: str
    port: int
    tls: bool = False

    @classmethod
    def from_url(cls, name: str, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http:// or https:// URL, got {url!r}")
        tls = parts.scheme == "https"
        return cls(name, parts.hostname, parts.port or (443 if tls else 80), tls)


@dataclass(frozen=True)
class Route:
    prefix: str
    upstream: str  # cluster name
    policy: str | None = "default"  # None: unsecured, no ext_proc
    rewrites: HeaderRewrites | None = None  # the policy's HeaderRewrites


def _ext_proc_per_route(policy: str | None, rewrites: HeaderRewrites | None) -> dict[str, Any]:
    per_route: dict[str, Any] = {
        "@type": _T + "envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute"
    }
    if policy is None:
        per_route["disabled"] = True
        return per_route
    overrides: dict[str, Any] = {
        "grpc_initial_metadata": [{"key": POLICY_METADATA, "value": policy}]
    }
    if rewrites is not None and rewrites.sidecar_response_headers:
        # Response rewrites that Envoy and its Lua cannot do: the sidecar sees the headers.
        overrides["processing_mode"] = {**PROCESSING_MODE, "response_header_mode": "SEND"}
    per_route["overrides"] = overrides
    return per_route


def protection_fields(policy: str | None, rewrites: HeaderRewrites | None) -> dict[str, Any]:
    """Fields of an Envoy route that protect it: the policy the sidecar applies (None:
    unsecured, no ext_proc) and the header rewrites Envoy does natively.
    `typed_per_filter_config` is always among them."""
    fields: dict[str, Any] = {}
    per_filter: dict[str, Any] = {LUA_FILTER: {"@type": _T + _LUA_PER_ROUTE, "disabled": True}}
    if rewrites is not None:
        fields = rewrites.route_fields(LUA_FILTER)
        per_filter.update(fields.pop("typed_per_filter_config"))
    per_filter[FILTER_NAMESPACE] = _ext_proc_per_route(policy, rewrites)
    return {**fields, "typed_per_filter_config": per_filter}


def build_route(route: Route, index: int) -> dict[str, Any]:
    return {
        "name": f"route-{index}",
        "match": {"prefix": route.prefix},
        "route": {"cluster": route.upstream, "timeout": "60s"},
        **protection_fields(route.policy, route.rewrites),
    }


def build_route_config(routes: list[Route]) -> dict[str, Any]:
    return {
        "name": ROUTE_CONFIG_NAME,
        "virtual_hosts": [
            {
                "name": "all",
                "domains": ["*"],
                "routes": [build_route(r, i) for i, r in enumerate(routes)],
            }
        ],
    }


def build_http_filters() -> list[dict[str, Any]]:
    return [
        {
            "name": FILTER_NAMESPACE,
            "typed_config": {
                "@type": _T + "envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
                "grpc_service": {"envoy_grpc": {"cluster_name": SIDECAR_CLUSTER}},
                "failure_mode_allow": False,
                "message_timeout": MESSAGE_TIMEOUT,
                "allow_mode_override": True,
                "request_attributes": ["source.address"],
                "processing_mode": PROCESSING_MODE,
            },
        },
        {
            "name": LUA_FILTER,
            "typed_config": {
                "@type": _T + "envoy.extensions.filters.http.lua.v3.Lua",
                "default_source_code": {"inline_string": "-- rewrites are per route\n"},
            },
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": {
                "@type": _T + "envoy.extensions.filters.http.router.v3.Router",
                # No x-envoy-* headers to the application or the client (information leakage).
                "suppress_envoy_headers": True,
            },
        },
    ]


def _cidr(text: str) -> dict[str, Any]:
    address, _, length = text.partition("/")
    return {
        "address_prefix": address,
        "prefix_len": int(length) if length else (128 if ":" in address else 32),
    }


def client_address_fields(remote_ip: dict[str, Any] | None) -> dict[str, Any]:
    """How Envoy decides the client's address (GatewayParameters defaults.downstream.remoteIP):
    what access logs show and the sidecar's remoteIP conditions see. Unset or connectionIP: the
    peer of the connection (behind a PROXY protocol header: its source)."""
    remote_ip = remote_ip or {}
    xff = remote_ip.get("xff")
    header = remote_ip.get("customHeader")
    if xff is not None and xff.get("trustedCIDRRanges"):
        # Addresses from the right of X-Forwarded-For are skipped while they are trusted proxies.
        detection: dict[str, Any] = {
            "@type": _T + "envoy.extensions.http.original_ip_detection.xff.v3.XffConfig",
            "xff_trusted_cidrs": {"cidrs": [_cidr(c) for c in xff["trustedCIDRRanges"]]},
        }
        name = "envoy.http.original_ip_detection.xff"
    elif xff is not None:
        # The nth address from the right of X-Forwarded-For (Envoy appends the peer first).
        return {"use_remote_address": True, "xff_num_trusted_hops": xff.get("numTrustedHops", 1)}
    elif header is not None:
        detection = {
            "@type": _T
            + "envoy.extensions.http.original_ip_detection.custom_header.v3.CustomHeaderConfig",
            "header_name": header["headerName"],
            "allow_extension_to_set_address_as_trusted": True,
        }
        if header.get("required", True):
            detection["reject_with_status"] = {"code": "Forbidden"}
        name = "envoy.http.original_ip_detection.custom_header"
    else:
        return {"use_remote_address": True}
    return {
        "use_remote_address": False,
        "original_ip_detection_extensions": [{"name": name, "typed_config": detection}],
    }


def build_http_connection_manager(
    routing: dict[str, Any], remote_ip: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The HTTP connection manager of a protected listener; `routing` is its `route_config` or
    `rds` field, `remote_ip` where the client address comes from (client_address_fields)."""
    return {
        "@type": _T
        + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "airlock",
        "codec_type": "AUTO",  # HTTP/1.1 and HTTP/2 (h2c prior knowledge)
        "generate_request_id": True,
        **client_address_fields(remote_ip),
        # Virtual hosts match host names; a port in the Host header must not defeat that.
        "strip_any_host_port": True,
        # The upstream's Server header is application information: HeaderRewrites removes it
        # and Envoy must not put its own in its place.
        "server_header_transformation": "PASS_THROUGH",
        "access_log": [
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": {
                    "@type": _T + "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                    "log_format": {
                        "json_format": ACCESS_LOG_FORMAT,
                        "formatters": [
                            {
                                "name": "envoy.formatter.req_without_query",
                                "typed_config": {
                                    "@type": _T
                                    + "envoy.extensions.formatter.req_without_query.v3"
                                    + ".ReqWithoutQuery"
                                },
                            }
                        ],
                    },
                },
            }
        ],
        **routing,
        "http_filters": build_http_filters(),
    }


def build_listener(host: str, port: int, routes: list[Route]) -> dict[str, Any]:
    manager = build_http_connection_manager({"route_config": build_route_config(routes)})
    return {
        "name": LISTENER_NAME,
        "address": {"socket_address": {"address": host, "port_value": port}},
        # The largest body Envoy buffers for the sidecar in one message (BUFFERED mode).
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT,
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


def build_sidecar_cluster(socket_paths: list[str]) -> dict[str, Any]:
    """The sidecar workers, one endpoint each, health-checked over gRPC: a dead or draining
    worker leaves the rotation; with none healthy, requests fail closed (no panic routing)."""
    return {
        "name": SIDECAR_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "1s",
                "no_traffic_interval": "1s",
                "unhealthy_threshold": 1,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": SERVICE_NAME},
            }
        ],
        "load_assignment": {
            "cluster_name": SIDECAR_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"pipe": {"path": p}}}} for p in socket_paths
                    ]
                }
            ],
        },
    }


def build_upstream_cluster(upstream: Upstream) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": upstream.name,
        "type": "STRICT_DNS",
        "connect_timeout": "2s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": upstream.name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": upstream.host,
                                        "port_value": upstream.port,
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }
    if upstream.tls:
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": _T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": upstream.host,
            },
        }
    return cluster


def build_bootstrap(
    listen: tuple[str, int],
    admin: tuple[str, int],
    upstreams: list[Upstream],
    routes: list[Route],
    sidecar_sockets: list[str],
) -> dict[str, Any]:
    """A complete static bootstrap for a local engine."""
    return {
        "admin": {"address": {"socket_address": {"address": admin[0], "port_value": admin[1]}}},
        "static_resources": {
            "listeners": [build_listener(listen[0], listen[1], routes)],
            "clusters": [build_sidecar_cluster(sidecar_sockets)]
            + [build_upstream_cluster(u) for u in upstreams],
        },
    }
