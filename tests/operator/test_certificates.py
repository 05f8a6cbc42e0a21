"""The operator's CA, the engines' and the xDS server's certificates, and their Secrets."""

from __future__ import annotations

import base64
import ipaddress
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from airlock_operator.certificates import (
    CertificateAuthority,
    CertificateError,
    bootstrap_secret,
    common_name,
    engine_identity,
    issue_engine_certificate,
    issue_server_certificate,
    namespace_of,
    needs_renewal,
    read_bootstrap_secret,
)
from airlock_operator.engine_bootstrap import SDS_CA_FILE, SDS_CLIENT_FILE
from airlock_operator.settings import (
    BOOTSTRAP_SECRET,
    CA_CERT_KEY,
    CA_SECRET,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    Settings,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RENEWAL = timedelta(hours=48)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(now=NOW)


def test_the_ca_is_a_long_lived_self_signed_p256_ca(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - NOW >= timedelta(days=3650)
    assert isinstance(ca.key.curve, ec.SECP256R1)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_the_ca_secret_round_trips(ca: CertificateAuthority) -> None:
    secret = ca.to_secret("airlock-microgateway-system")
    assert secret["metadata"] == {"name": CA_SECRET, "namespace": "airlock-microgateway-system"}
    assert secret["type"] == "kubernetes.io/tls"
    assert sorted(secret["data"]) == sorted([CA_CERT_KEY, TLS_CERT_KEY, TLS_KEY_KEY])
    loaded = CertificateAuthority.from_secret(secret)
    assert loaded.cert_pem == ca.cert_pem
    assert loaded.key_pem == ca.key_pem


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("data"), "has no data"),
        (lambda s: s["data"].pop(TLS_KEY_KEY), "lacks tls.key"),
        (lambda s: s["data"].update({TLS_CERT_KEY: "not base64!"}), "tls.crt is not base64"),
        (
            lambda s: s["data"].update({TLS_CERT_KEY: base64.b64encode(b"junk").decode()}),
            "not a PEM certificate",
        ),
        (
            lambda s: s["data"].update({TLS_KEY_KEY: base64.b64encode(b"junk").decode()}),
            "not an unencrypted PEM private key",
        ),
    ],
)
def test_a_broken_ca_secret_is_a_clear_error(
    ca: CertificateAuthority, change: object, message: str
) -> None:
    secret = ca.to_secret("ns")
    change(secret)  # type: ignore[operator]
    with pytest.raises(CertificateError, match=message):
        CertificateAuthority.from_secret(secret)


def test_a_ca_key_of_another_ca_is_refused(ca: CertificateAuthority) -> None:
    other = CertificateAuthority.create()
    with pytest.raises(CertificateError, match="do not belong together"):
        CertificateAuthority.from_pem(ca.cert_pem, other.key_pem)


def test_an_engine_certificate_names_its_namespace(ca: CertificateAuthority) -> None:
    leaf = issue_engine_certificate(ca, "team-a", RENEWAL, now=NOW)
    cert = leaf.certificate
    assert common_name(cert) == engine_identity("team-a") == "engine.team-a"
    assert namespace_of(common_name(cert) or "") == "team-a"
    assert ca.issued(cert)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_after_utc - NOW == 2 * RENEWAL
    assert cert.not_valid_before_utc <= NOW


@pytest.mark.parametrize("identity", ["team-a", "engine.", "engine.a.b", "operator.team-a", ""])
def test_other_identities_name_no_namespace(identity: str) -> None:
    assert namespace_of(identity) is None


def test_the_server_certificate_covers_the_xds_host_localhost_and_loopback(
    ca: CertificateAuthority,
) -> None:
    settings = Settings(xds_host="xds.airlock.svc", renewal_period=timedelta(hours=10))
    cert = issue_server_certificate(ca, settings, now=NOW).certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xds.airlock.svc", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.not_valid_after_utc - NOW == timedelta(hours=20)
    assert ca.issued(cert)


def test_renewal_is_due_after_one_period(ca: CertificateAuthority) -> None:
    pem = issue_engine_certificate(ca, "team-a", RENEWAL, now=NOW).cert_pem
    assert not needs_renewal(pem, ca, RENEWAL, now=NOW)
    assert not needs_renewal(pem, ca, RENEWAL, now=NOW + RENEWAL - timedelta(minutes=1))
    assert needs_renewal(pem, ca, RENEWAL, now=NOW + RENEWAL)


def test_renewal_is_due_when_little_time_is_left(ca: CertificateAuthority) -> None:
    # Issued for a shorter period than the operator now renews with: less than one period left.
    pem = issue_engine_certificate(ca, "team-a", timedelta(hours=1), now=NOW).cert_pem
    assert not needs_renewal(pem, ca, timedelta(hours=1), now=NOW)
    assert needs_renewal(pem, ca, RENEWAL, now=NOW)


def test_renewal_is_due_for_another_cas_certificate_or_garbage(ca: CertificateAuthority) -> None:
    other = CertificateAuthority.create(now=NOW)
    pem = issue_engine_certificate(other, "team-a", RENEWAL, now=NOW).cert_pem
    assert needs_renewal(pem, ca, RENEWAL, now=NOW)
    assert needs_renewal(b"not a certificate", ca, RENEWAL, now=NOW)


def test_the_bootstrap_secret_holds_the_engine_pair_and_the_ca(ca: CertificateAuthority) -> None:
    leaf = issue_engine_certificate(ca, "team-a", RENEWAL, now=NOW)
    secret = bootstrap_secret(ca, leaf, "team-a")
    assert secret["metadata"] == {"name": BOOTSTRAP_SECRET, "namespace": "team-a"}
    assert secret["type"] == "kubernetes.io/tls"
    material = read_bootstrap_secret(secret)
    assert (material.ca_pem, material.cert_pem, material.key_pem) == (
        ca.cert_pem,
        leaf.cert_pem,
        leaf.key_pem,
    )


def test_the_bootstrap_secret_carries_envoys_sds_files_of_the_same_pems(
    ca: CertificateAuthority,
) -> None:
    leaf = issue_engine_certificate(ca, "team-a", RENEWAL, now=NOW)
    data = bootstrap_secret(ca, leaf, "team-a")["data"]
    client = json.loads(base64.b64decode(data[SDS_CLIENT_FILE]))["resources"][0]
    pair = client["tls_certificate"]
    assert pair["certificate_chain"]["inline_string"].encode() == leaf.cert_pem
    assert pair["private_key"]["inline_string"].encode() == leaf.key_pem
    trusted = json.loads(base64.b64decode(data[SDS_CA_FILE]))["resources"][0]
    assert trusted["validation_context"]["trusted_ca"]["inline_string"].encode() == ca.cert_pem


def test_a_bootstrap_secret_without_the_ca_is_a_clear_error(ca: CertificateAuthority) -> None:
    secret = bootstrap_secret(ca, issue_engine_certificate(ca, "ns", RENEWAL), "ns")
    del secret["data"][CA_CERT_KEY]
    with pytest.raises(CertificateError, match=f"{BOOTSTRAP_SECRET} lacks ca.crt"):
        read_bootstrap_secret(secret)
