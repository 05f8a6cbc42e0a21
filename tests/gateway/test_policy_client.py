"""The sidecar's policy subscription against the operator's real xDS server, over real mTLS."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from envoy.service.discovery.v3.discovery_pb2 import DiscoveryResponse
from google.protobuf import any_pb2, wrappers_pb2

from airlock_microgateway.observability import Observer
from airlock_microgateway.policy_client import PolicyClient, follow_policies
from airlock_operator.certificates import CertificateAuthority, issue_engine_certificate
from airlock_operator.settings import POLICY_TYPE_URL, Settings
from airlock_operator.xds_server import ConfigCache, ServerTls

from .stack import wait_for
from .xds_stack import SecretVolume, XdsThread

NAMESPACE = "shop"
NODE = "shop/gateway"
SERVER_LOG = "airlock_operator.xds_server"

GOOD = """\
apiVersion: microgateway.airlock.com/v1alpha1
kind: ContentSecurityPolicy
metadata: {name: shop}
spec:
  secured:
    filter: {denyRulesRef: {name: rules}}
---
apiVersion: microgateway.airlock.com/v1alpha1
kind: DenyRules
metadata: {name: rules}
spec:
  request:
    builtIn:
      settings: {level: %s}
"""


def policies(text: str) -> dict[str, list[wrappers_pb2.StringValue]]:
    return {POLICY_TYPE_URL: [wrappers_pb2.StringValue(value=text)]}


class Follower:
    """`follow_policies` in a thread, as the sidecar supervisor runs it."""

    def __init__(self, address: str, tls_dir: Path, out_file: Path) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=follow_policies, args=(address, NODE, tls_dir, out_file, self.stop)
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def ca() -> CertificateAuthority:
    return CertificateAuthority.create()


@pytest.fixture
def xds(ca: CertificateAuthority) -> Iterator[XdsThread]:
    server = XdsThread(ConfigCache(), ServerTls(ca, Settings(xds_host="localhost"))).start()
    yield server
    server.close()


@pytest.fixture
def secret(tmp_path: Path, ca: CertificateAuthority) -> SecretVolume:
    volume = SecretVolume(tmp_path / "bootstrap")
    leaf = issue_engine_certificate(ca, NAMESPACE, timedelta(hours=48))
    volume.publish_bootstrap(ca, leaf, NAMESPACE)
    return volume


@pytest.fixture
def caplog_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=SERVER_LOG)
    return caplog


def server_messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == SERVER_LOG and text in r.getMessage()
    ]


def content(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def test_policies_are_written_and_acked_then_a_bad_version_is_nacked_and_not_written(
    tmp_path: Path, xds: XdsThread, secret: SecretVolume, caplog_debug: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "policies" / "policy.yaml"
    xds.cache.set(NODE, policies(GOOD % "Strict"))
    follower = Follower(xds.address, secret.path, out)
    try:
        wait_for(lambda: content(out) == GOOD % "Strict", 10, "the policy file")
        wait_for(lambda: server_messages(caplog_debug, "xds ACK"), 10, "the ACK")
        written = out.stat()

        for bad, reason in [
            ("kind: [unclosed", "invalid YAML"),
            (GOOD % "Extreme", "must be one of Unfiltered, Basic, Standard, Strict"),
        ]:
            xds.cache.set(NODE, policies(bad))
            wait_for(
                lambda r=reason: any(r in m for m in server_messages(caplog_debug, "NACK")),
                10,
                f"a NACK naming {reason!r}",
            )
            assert content(out) == GOOD % "Strict"
            assert out.stat().st_mtime_ns == written.st_mtime_ns
        assert [p.name for p in out.parent.iterdir()] == ["policy.yaml"]  # no temporary left

        xds.cache.set(NODE, policies(GOOD % "Basic"))
        wait_for(lambda: content(out) == GOOD % "Basic", 10, "the next good policy")
    finally:
        follower.close()


def test_the_client_reconnects_when_the_operator_comes_back_with_renewed_files(
    tmp_path: Path,
    ca: CertificateAuthority,
    xds: XdsThread,
    secret: SecretVolume,
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "policy.yaml"
    xds.cache.set(NODE, policies(GOOD % "Strict"))
    follower = Follower(xds.address, secret.path, out)
    try:
        wait_for(lambda: content(out) == GOOD % "Strict", 10, "the policy file")
        xds.stop()
        renewed = issue_engine_certificate(ca, NAMESPACE, timedelta(hours=48))
        secret.publish_bootstrap(ca, renewed, NAMESPACE)  # kubelet's ..data swap
        xds.cache.set(NODE, policies(GOOD % "Standard"))
        assert content(out) == GOOD % "Strict"  # nothing changes while the operator is away
        xds.start()
        wait_for(lambda: content(out) == GOOD % "Standard", 30, "the policy after the restart")
        serial = f"serial {renewed.certificate.serial_number:x}"
        assert any(
            m.endswith(serial) for m in server_messages(caplog_debug, f"opened: node {NODE}")
        )
    finally:
        follower.close()


def test_a_client_of_another_namespace_gets_nothing(
    tmp_path: Path, ca: CertificateAuthority, xds: XdsThread, caplog_debug: pytest.LogCaptureFixture
) -> None:
    volume = SecretVolume(tmp_path / "other")
    other = issue_engine_certificate(ca, "intruder", timedelta(hours=48))
    volume.publish_bootstrap(ca, other, "intruder")
    out = tmp_path / "policy.yaml"
    xds.cache.set(NODE, policies(GOOD % "Strict"))
    follower = Follower(xds.address, volume.path, out)
    try:
        wait_for(lambda: server_messages(caplog_debug, "PERMISSION_DENIED"), 10, "the refusal")
    finally:
        follower.close()
    assert not out.exists()


def test_unreadable_tls_files_are_reported_and_retried_until_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    follower = Follower("127.0.0.1:1", tmp_path / "missing", tmp_path / "policy.yaml")
    output: list[str] = []

    def attempts() -> int:
        output.append(capsys.readouterr().out)
        return "".join(output).count("cannot read the TLS files")

    try:
        wait_for(lambda: attempts() >= 2, 10, "a retry")
    finally:
        follower.close()
    assert not (tmp_path / "policy.yaml").exists()


def _response(*resources: Any, type_url: str = POLICY_TYPE_URL) -> DiscoveryResponse:
    packed = []
    for resource in resources:
        wrapper = any_pb2.Any()
        wrapper.Pack(resource)
        packed.append(wrapper)
    return DiscoveryResponse(version_info="v9", resources=packed, type_url=type_url, nonce="7")


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (_response(wrappers_pb2.Int32Value(value=1)), "not a StringValue"),
        (_response(wrappers_pb2.StringValue(), wrappers_pb2.StringValue()), "expected one"),
        (_response(type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster"), "unexpected"),
    ],
)
def test_a_response_that_holds_no_policy_document_is_nacked(
    tmp_path: Path, response: DiscoveryResponse, reason: str
) -> None:
    out = tmp_path / "policy.yaml"
    out.write_text(GOOD % "Strict")
    client = PolicyClient("127.0.0.1:1", NODE, tmp_path, out, Observer(io.StringIO()))
    reply = client.on_response(response)
    assert reply.response_nonce == "7"
    assert reason in reply.error_detail.message
    assert reply.version_info == ""  # nothing accepted yet
    assert out.read_text() == GOOD % "Strict"


def test_an_empty_response_is_acked_and_keeps_the_file(tmp_path: Path) -> None:
    out = tmp_path / "policy.yaml"
    out.write_text(GOOD % "Strict")
    client = PolicyClient("127.0.0.1:1", NODE, tmp_path, out, Observer(io.StringIO()))
    reply = client.on_response(_response())
    assert not reply.HasField("error_detail")
    assert reply.version_info == "v9"
    assert out.read_text() == GOOD % "Strict"


def test_an_unwritable_policy_file_is_nacked(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    out = tmp_path / "not-a-directory" / "policy.yaml"
    client = PolicyClient("127.0.0.1:1", NODE, tmp_path, out, Observer(io.StringIO()))
    reply = client.on_response(_response(wrappers_pb2.StringValue(value=GOOD % "Strict")))
    assert "cannot write the policy file" in reply.error_detail.message
