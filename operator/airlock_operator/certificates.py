"""The certificates of the mTLS between the operator and its engines (pure, no Kubernetes calls).

- The CA is self-signed, valid 10 years, and lives in the Secret `CA_SECRET` of the operator's
  namespace: type kubernetes.io/tls, `tls.crt`/`tls.key` the CA's own pair (PEM, base64 as every
  Secret's data), `ca.crt` the same certificate for readers that only want the trust anchor.
- An engine's client certificate names the engine's namespace in its common name,
  `engine.<namespace>`: a namespace is a DNS label, so the dot makes the identity unambiguous.
  The xDS server lets such a client only ask for nodes of that namespace (`namespace_of`).
- The operator's xDS server certificate covers [settings.xds_host, "localhost"] and 127.0.0.1.
- The bootstrap Secret of an engine namespace (`BOOTSTRAP_SECRET`, kubernetes.io/tls) holds
  `ca.crt`, `tls.crt` and `tls.key`, and the same PEMs as the two SDS files Envoy reads
  (`sds-client.json`, `sds-ca.json`, see engine_bootstrap).
- Leaf certificates are valid for two renewal periods and renewed after one, so a renewed
  certificate reaches the pods (kubelet syncs Secret volumes within a minute or two) long before
  the old one expires.

Keys are ECDSA P-256, signatures SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from airlock_operator.engine_bootstrap import build_sds_files
from airlock_operator.settings import (
    BOOTSTRAP_SECRET,
    CA_CERT_KEY,
    CA_SECRET,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    Settings,
)

CA_VALIDITY = timedelta(days=3650)
CA_COMMON_NAME = "airlock-microgateway-ca"
ENGINE_PREFIX = "engine."
SERVER_COMMON_NAME = "airlock-microgateway-operator-xds"
# A clock a little behind the operator's must not see a certificate as not yet valid.
CLOCK_SKEW = timedelta(minutes=5)
TLS_SECRET_TYPE = "kubernetes.io/tls"


class CertificateError(ValueError):
    """A Secret or PEM that does not hold what it should; the message says what is wrong."""


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def load_certificate(pem: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError(f"{what} is not a PEM certificate: {exc}") from None


def _load_key(pem: bytes, what: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{what} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{what} is not an ECDSA key")
    return key


@dataclass(frozen=True)
class LeafCertificate:
    """A certificate and its key, PEM encoded, as they go into a Secret or a TLS library."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return load_certificate(self.cert_pem)


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, now: datetime | None = None) -> CertificateAuthority:
        now = _now(now)
        key = _new_key()
        name = _name(CA_COMMON_NAME)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        certificate = load_certificate(cert_pem, "CA certificate")
        key = _load_key(key_pem, "CA key")
        if certificate.public_key() != key.public_key():
            raise CertificateError("CA certificate and key do not belong together")
        return cls(certificate, key)

    def to_secret(self, namespace: str) -> dict[str, Any]:
        """The CA Secret, ready for the Kubernetes API."""
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CA_SECRET, "namespace": namespace},
            "type": TLS_SECRET_TYPE,
            "data": _encode(
                {CA_CERT_KEY: self.cert_pem, TLS_CERT_KEY: self.cert_pem, TLS_KEY_KEY: self.key_pem}
            ),
        }

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> CertificateAuthority:
        data = _decode(secret, CA_SECRET, (TLS_CERT_KEY, TLS_KEY_KEY))
        return cls.from_pem(data[TLS_CERT_KEY], data[TLS_KEY_KEY])

    def issue(
        self,
        common_name: str,
        validity: timedelta,
        *,
        client: bool = False,
        server: bool = False,
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
        now: datetime | None = None,
    ) -> LeafCertificate:
        now = _now(now)
        key = _new_key()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        usages += [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        return LeafCertificate(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issued(self, certificate: x509.Certificate) -> bool:
        """Whether this CA signed the certificate (a new CA means every leaf must be reissued)."""
        try:
            certificate.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


def engine_identity(namespace: str) -> str:
    return ENGINE_PREFIX + namespace


def namespace_of(identity: str) -> str | None:
    """The namespace an engine certificate's common name stands for; None if it is none."""
    if not identity.startswith(ENGINE_PREFIX):
        return None
    namespace = identity[len(ENGINE_PREFIX) :]
    return namespace if namespace and "." not in namespace else None


def common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def leaf_validity(renewal_period: timedelta) -> timedelta:
    return 2 * renewal_period


def issue_engine_certificate(
    ca: CertificateAuthority,
    namespace: str,
    renewal_period: timedelta,
    now: datetime | None = None,
) -> LeafCertificate:
    return ca.issue(engine_identity(namespace), leaf_validity(renewal_period), client=True, now=now)


def issue_server_certificate(
    ca: CertificateAuthority, settings: Settings, now: datetime | None = None
) -> LeafCertificate:
    return ca.issue(
        SERVER_COMMON_NAME,
        leaf_validity(settings.renewal_period),
        server=True,
        dns_names=tuple(dict.fromkeys([settings.xds_host, "localhost"])),
        ip_addresses=("127.0.0.1",),
        now=now,
    )


def needs_renewal(
    cert_pem: bytes,
    ca: CertificateAuthority,
    renewal_period: timedelta,
    now: datetime | None = None,
) -> bool:
    """True when the certificate is one renewal period old, has less than one period left
    (issued with a longer period, or the clock jumped), was not issued by this CA, or is not a
    certificate at all."""
    now = _now(now)
    try:
        certificate = load_certificate(cert_pem)
    except CertificateError:
        return True
    if not ca.issued(certificate):
        return True
    issued_at = certificate.not_valid_before_utc + CLOCK_SKEW
    return (
        now - issued_at >= renewal_period or certificate.not_valid_after_utc - now < renewal_period
    )


@dataclass(frozen=True)
class BootstrapMaterial:
    """What an engine needs for its mTLS to the operator, PEM encoded."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def leaf(self) -> LeafCertificate:
        return LeafCertificate(self.cert_pem, self.key_pem)


def bootstrap_secret(
    ca: CertificateAuthority, leaf: LeafCertificate, namespace: str
) -> dict[str, Any]:
    """The engine namespace's bootstrap Secret, ready for the Kubernetes API: the PEMs under
    CA_CERT_KEY, TLS_CERT_KEY and TLS_KEY_KEY, and the same as Envoy SDS files (see
    engine_bootstrap), so the whole Secret must be mounted."""
    pems = {CA_CERT_KEY: ca.cert_pem, TLS_CERT_KEY: leaf.cert_pem, TLS_KEY_KEY: leaf.key_pem}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": BOOTSTRAP_SECRET, "namespace": namespace},
        "type": TLS_SECRET_TYPE,
        "data": _encode({**pems, **build_sds_files(ca.cert_pem, leaf.cert_pem, leaf.key_pem)}),
    }


def read_bootstrap_secret(secret: Mapping[str, Any]) -> BootstrapMaterial:
    data = _decode(secret, BOOTSTRAP_SECRET, (CA_CERT_KEY, TLS_CERT_KEY, TLS_KEY_KEY))
    return BootstrapMaterial(data[CA_CERT_KEY], data[TLS_CERT_KEY], data[TLS_KEY_KEY])


def _encode(values: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode("ascii") for k, v in values.items()}


def _decode(secret: Mapping[str, Any], what: str, keys: tuple[str, ...]) -> dict[str, bytes]:
    data = secret.get("data") if isinstance(secret, Mapping) else None
    if not isinstance(data, Mapping):
        raise CertificateError(f"Secret {what} has no data")
    missing = [k for k in keys if not data.get(k)]
    if missing:
        raise CertificateError(f"Secret {what} lacks {', '.join(missing)}")
    decoded = {}
    for key in keys:
        try:
            decoded[key] = base64.b64decode(str(data[key]), validate=True)
        except (binascii.Error, ValueError):
            raise CertificateError(f"Secret {what}: {key} is not base64") from None
    return decoded
