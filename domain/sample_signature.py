"""A throwaway certificate authority and officer certificate, made on the spot, that sign a
PDF the way a signing officer's software does (PAdES, with pyHanko): the demo's electronic
result and the tests' signed results. Nothing here is a real authority; its private keys live
in memory only and are never written anywhere."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEMO_AUTHORITY = "hoso demo CA, not a real authority"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=not ca,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                         decipher_only=False)


def _asn1(certificate: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@dataclass
class SampleAuthority:
    """A CA of its own (``root`` to trust), issuing officer certificates that sign PDFs."""

    common_name: str = DEMO_AUTHORITY
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.certificate = (
            x509.CertificateBuilder().subject_name(_name(self.common_name))
            .issuer_name(_name(self.common_name)).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=800))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .sign(self.key, hashes.SHA256()))

    @property
    def root(self) -> Any:
        """The CA certificate as pyHanko's validator takes it."""
        return _asn1(self.certificate)

    @property
    def root_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def officer(self, common_name: str, *, expired: bool = False) -> SampleSigner:
        key = ec.generate_private_key(ec.SECP256R1())
        end = self.now - timedelta(days=1) if expired else self.now + timedelta(days=730)
        certificate = (
            x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=400)).not_valid_after(end)
            .add_extension(_usage(ca=False), critical=True)
            .sign(self.key, hashes.SHA256()))
        return SampleSigner(key, certificate, self.certificate)


@dataclass
class SampleSigner:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    issuer: x509.Certificate

    def sign(self, pdf: bytes) -> bytes:
        """``pdf`` with a PAdES signature over all of it, as an incremental update."""
        from asn1crypto import keys
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        signer = signers.SimpleSigner(
            signing_cert=_asn1(self.certificate),
            signing_key=keys.PrivateKeyInfo.load(self.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())),
            cert_registry=SimpleCertificateStore.from_certs([_asn1(self.issuer)]))
        out = signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            signers.PdfSignatureMetadata(field_name="KetQua",
                                         subfilter=fields.SigSeedSubFilter.PADES),
            signer=signer)
        return out.getvalue()
