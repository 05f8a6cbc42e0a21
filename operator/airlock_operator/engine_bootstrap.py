"""The Envoy bootstrap an engine pod starts with: who it is, and how it reaches the operator.

Everything else (listeners, routes, upstream clusters) arrives over one ADS stream from the
operator. The only static parts are the xDS cluster, the sidecar cluster, which the listeners'
ext_proc filter names, and the readiness listener kubelet probes.

The mTLS material comes from the bootstrap Secret mounted at `tls_dir`. Envoy reads it through
two SDS files, `sds-client.json` (certificate and key) and `sds-ca.json` (the CA), which are
keys of that Secret with the PEMs inline (`build_sds_files`), watched through `tls_dir`:
kubelet updates a Secret volume by swapping the `..data` symlink, a move inside `tls_dir`, and
Envoy re-reads the files on it. One file per secret is read in one go, so a swap can never pair
a new certificate with an old key, and nothing in the Secret depends on where it is mounted.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from airlock_microgateway.envoy_config import SIDECAR_CLUSTER, build_sidecar_cluster
from airlock_operator.settings import (
    BOOTSTRAP_MOUNT,
    ENGINE_ADMIN_PORT,
    ENGINE_READY_PORT,
    Settings,
)

XDS_CLUSTER = "airlock_xds"
SDS_CLIENT_FILE = "sds-client.json"
SDS_CA_FILE = "sds-ca.json"
CLIENT_SECRET_NAME = "airlock_xds_client"
CA_SECRET_NAME = "airlock_xds_ca"
READY_LISTENER = "airlock_ready"
READY_PATH = "/ready"
_HCM = "envoy.filters.network.http_connection_manager"

_T = "type.googleapis.com/"
_SECRET_TYPE = _T + "envoy.extensions.transport_sockets.tls.v3.Secret"


def build_sds_files(ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> dict[str, bytes]:
    """The SDS files of the bootstrap Secret: file name -> content (a DiscoveryResponse)."""

    def response(secret: dict[str, Any]) -> bytes:
        return json.dumps({"resources": [{"@type": _SECRET_TYPE, **secret}]}).encode()

    return {
        SDS_CLIENT_FILE: response(
            {
                "name": CLIENT_SECRET_NAME,
                "tls_certificate": {
                    "certificate_chain": {"inline_string": cert_pem.decode("ascii")},
                    "private_key": {"inline_string": key_pem.decode("ascii")},
                },
            }
        ),
        SDS_CA_FILE: response(
            {
                "name": CA_SECRET_NAME,
                "validation_context": {"trusted_ca": {"inline_string": ca_pem.decode("ascii")}},
            }
        ),
    }


def _sds(name: str, tls_dir: str, file_name: str) -> dict[str, Any]:
    return {
        "name": name,
        "sds_config": {
            "path_config_source": {
                "path": str(PurePosixPath(tls_dir) / file_name),
                "watched_directory": {"path": tls_dir},
            },
            "resource_api_version": "V3",
        },
    }


def _xds_tls(settings: Settings, tls_dir: str) -> dict[str, Any]:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": settings.xds_host,
            "common_tls_context": {
                "tls_params": {
                    "tls_minimum_protocol_version": "TLSv1_3",
                    "tls_maximum_protocol_version": "TLSv1_3",
                },
                "alpn_protocols": ["h2"],
                "tls_certificate_sds_secret_configs": [
                    _sds(CLIENT_SECRET_NAME, tls_dir, SDS_CLIENT_FILE)
                ],
                "combined_validation_context": {
                    # Only the operator's certificate: another workload's certificate from the
                    # same CA (an engine's) must not pass for the control plane.
                    "default_validation_context": {
                        "match_typed_subject_alt_names": [
                            {"san_type": "DNS", "matcher": {"exact": settings.xds_host}}
                        ]
                    },
                    "validation_context_sds_secret_config": _sds(
                        CA_SECRET_NAME, tls_dir, SDS_CA_FILE
                    ),
                },
            },
        },
    }


def build_xds_cluster(settings: Settings, tls_dir: str = BOOTSTRAP_MOUNT) -> dict[str, Any]:
    return {
        "name": XDS_CLUSTER,
        "type": "STRICT_DNS",
        # A Service name resolves to IPv4 in most clusters; "localhost" must not pick ::1
        # while the server listens on 127.0.0.1.
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "5s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {
                    "http2_protocol_options": {
                        # A silently vanished operator is noticed and the stream re-opened.
                        "connection_keepalive": {"interval": "30s", "timeout": "10s"}
                    }
                },
            }
        },
        "load_assignment": {
            "cluster_name": XDS_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": settings.xds_host,
                                        "port_value": settings.xds_port,
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
        "transport_socket": _xds_tls(settings, tls_dir),
    }


def build_ready_listener(port: int, sidecar_sockets: list[str]) -> dict[str, Any]:
    """Answers GET /ready with 200 when the engine can protect traffic, else 503.

    Envoy starts its listeners only once the first configuration from the operator is in, and
    the health check filter answers 503 while fewer sidecar workers pass Envoy's own gRPC health
    checks than there are worker slots (each slot has two socket paths, one in use), or while
    Envoy drains. The admin interface stays on loopback: kubelet's probe reaches only this.
    """
    slots = len(sidecar_sockets) // 2
    health_check = {
        "@type": _T + "envoy.extensions.filters.http.health_check.v3.HealthCheck",
        "pass_through_mode": False,
        "headers": [{"name": ":path", "string_match": {"exact": READY_PATH}}],
        "cluster_min_healthy_percentages": {
            SIDECAR_CLUSTER: {"value": 100.0 * slots / len(sidecar_sockets)}
        },
    }
    manager = {
        "@type": _T
        + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": READY_LISTENER,
        "route_config": {
            "virtual_hosts": [
                {
                    "name": READY_LISTENER,
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 404}}],
                }
            ]
        },
        "http_filters": [
            {"name": "envoy.filters.http.health_check", "typed_config": health_check},
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _T + "envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    return {
        "name": READY_LISTENER,
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": port}},
        "filter_chains": [{"filters": [{"name": _HCM, "typed_config": manager}]}],
    }


def build_engine_bootstrap(
    settings: Settings,
    node_id: str,
    sidecar_sockets: list[str],
    tls_dir: str = BOOTSTRAP_MOUNT,
    admin_port: int = ENGINE_ADMIN_PORT,
    ready_port: int = ENGINE_READY_PORT,
) -> dict[str, Any]:
    """The bootstrap of an engine of the Gateway `node_id` (see `settings.node_id`)."""
    ads = {"ads": {}, "resource_api_version": "V3"}
    return {
        "node": {"id": node_id, "cluster": node_id},
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
            },
            "cds_config": ads,
            "lds_config": ads,
        },
        "static_resources": {
            "listeners": [build_ready_listener(ready_port, sidecar_sockets)],
            "clusters": [
                build_xds_cluster(settings, tls_dir),
                build_sidecar_cluster(sidecar_sockets),
            ],
        },
    }
