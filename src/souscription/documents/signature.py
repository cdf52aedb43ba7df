"""The insurer's seal on the offer and the contract: PAdES signatures made and checked with pyHanko, offline.

Why: in the embedded mode the platform itself seals each document (PAdES baseline B, ETSI.CAdES.detached), so anyone
holding the insurer's certificate can tell that the PDF is the one issued and was not altered. The key is generated
on first use into a folder outside the code (`SigningIdentity.load_or_create`), never committed.

Choices, measured (benchmarks/documents.py): ECDSA P-256 rather than RSA 2048 — signing is several times cheaper and
verifying costs about the same; moreover pyHanko's `SimpleSigner` re-parses the private key for every signature,
which costs ~0.02 ms for an EC key and ~37 ms for an RSA key (cryptography validates RSA keys on load). The signer and
the size reserved for the signature are prepared once per identity. No timestamp authority and no revocation
fetching: the seal is self-signed, validation is offline with the identity's certificate as the only trust root.

No clock reads: the caller passes the signing time and the creation time of the identity; verification happens at
the signing time the signature claims, unless the caller passes another moment.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, cast

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from asn1crypto import keys as asn1_keys
from asn1crypto import parser as asn1_parser
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, SimpleSigner
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

KEY_FILE = "signing-key.pem"
CERT_FILE = "signing-cert.pem"
KeyType = Literal["ec-p256", "rsa-2048"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
FIELD_NAME = "CachetAssureur"
"""The signature field each seal creates (a new, invisible field)."""

_NO_ENCRYPTION = serialization.NoEncryption()
# What pyHanko raises on a damaged file besides its own errors, found by flipping single bits of a sealed document:
# a trailer without /Size gives KeyError, a mangled /ByteRange AttributeError.
_UNREADABLE = (PdfError, SignatureValidationError, ValueError, KeyError, IndexError, TypeError, AttributeError)


class SigningIdentityError(RuntimeError):
    """The key folder holds something unusable: half an identity, or a certificate that is not the key's."""


class SigningIdentity:
    """A private key and its self-signed certificate: the insurer's seal for embedded e-signature.

    Build it once per process (`load_or_create`) and share it between threads: it holds the prepared pyHanko
    signer. Like pyHanko's own synchronous API, building it, `sign_pdf` and `verify_pdf` run an event loop of their
    own, so call them from a thread that is not running one (in async code, through `asyncio.to_thread`).
    """

    def __init__(self, key: PrivateKey, certificate: x509.Certificate) -> None:
        if key.public_key() != certificate.public_key():
            raise SigningIdentityError("the certificate does not belong to the private key")
        self._key = key
        self.certificate = certificate
        self._certificate_asn1 = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, _NO_ENCRYPTION)
        self.signer = SimpleSigner(
            signing_cert=self._certificate_asn1,
            signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            # The signer's certificate is always embedded; registering it here too would embed it twice.
            cert_registry=SimpleCertificateStore(),  # type: ignore[no-untyped-call]
        )
        self.signer.signed_attr_prov_spec = _SealAttributes(self._certificate_asn1)
        # The hexadecimal room for the signature container, sized once from a real one. pyHanko would otherwise
        # size it by signing a dummy for every document, with a 50 % margin that every verification then parses.
        probe = asyncio.run(self.signer.async_sign(b"\0" * 32, "sha256", use_pades=True))
        self.bytes_reserved = 2 * (len(probe.dump()) + 64)

    @property
    def common_name(self) -> str:
        names = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else self.certificate.subject.rfc4514_string()

    @property
    def trust_root(self) -> asn1_x509.Certificate:
        """The certificate in pyHanko's representation, to validate against."""
        return self._certificate_asn1

    @classmethod
    def generate(
        cls,
        *,
        common_name: str,
        now: datetime,
        key_type: KeyType = "ec-p256",
        validity: timedelta = timedelta(days=3650),
    ) -> SigningIdentity:
        """A new identity in memory. Valid from a day before `now` (clock skew between hosts) for `validity`."""
        _require_aware(now, "now")
        key: PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if key_type == "ec-p256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @classmethod
    def load_or_create(cls, folder: Path, *, common_name: str, now: datetime) -> SigningIdentity:
        """The identity kept in `folder` (signing-key.pem, mode 0600, and signing-cert.pem), created on first use.

        Creation is safe against a concurrent first start: the key file is published last, atomically, and only
        if absent; the loser of a race loads the winner's identity.
        """
        key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
        if not key_path.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            identity = cls.generate(common_name=common_name, now=now)
            if identity._publish(key_path, cert_path):
                return identity
        if not cert_path.exists():
            raise SigningIdentityError(f"{key_path} exists without {cert_path}: restore the certificate")
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SigningIdentityError(f"{key_path} holds a {type(key).__name__}, not an EC or RSA key")
        return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))

    def _publish(self, key_path: Path, cert_path: Path) -> bool:
        """Write the certificate, then link the key into place; False if another process published first."""
        folder = key_path.parent
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cert-", delete=False) as cert_file:
            cert_file.write(self.certificate.public_bytes(serialization.Encoding.PEM))
        os.chmod(cert_file.name, 0o644)  # public: anyone may check a seal
        key_pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _NO_ENCRYPTION)
        descriptor, key_temp = tempfile.mkstemp(dir=folder, prefix=".key-")  # created 0600
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "wb") as key_file:
                key_file.write(key_pem)
            try:
                os.link(key_temp, key_path)
            except FileExistsError:
                return False
            os.replace(cert_file.name, cert_path)
            return True
        finally:
            os.unlink(key_temp)
            if os.path.exists(cert_file.name):
                os.unlink(cert_file.name)


class _SealAttributes(SignedAttributeProviderSpec):
    """The signed attributes of a PAdES signature by one certificate, prepared once.

    pyHanko adds content-type and message-digest; PAdES adds only signing-certificate-v2 (no signing-time: the
    claimed time is /M in the signature dictionary). That attribute never changes for a certificate, and building
    it anew costs ten times the rest of the signature in asn1crypto, so it is kept encoded and re-read, which is
    cheap because a parsed value re-encodes from its cached bytes.
    """

    def __init__(self, certificate: asn1_x509.Certificate) -> None:
        self._signing_certificate = as_signing_certificate_v2(certificate).dump()

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> Iterator[CMSAttributeProvider]:
        yield _PreparedSigningCertificate(self._signing_certificate)


class _PreparedSigningCertificate(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, encoded: bytes) -> None:
        self._encoded = encoded

    async def build_attr_value(self, dry_run: bool = False) -> object:
        return asn1_tsp.SigningCertificateV2.load(self._encoded)


@dataclass(frozen=True)
class SignatureCheck:
    """What a verification found about the last signature of a PDF.

    `intact`: the signed bytes are unchanged. `valid`: the signature value matches. `trusted`: the signer's
    certificate chains to the identity given. `coverage`: pyHanko's level, "ENTIRE_FILE" for a document nobody
    touched after sealing ("ENTIRE_REVISION" means bytes were appended), "UNSIGNED" or "UNREADABLE" otherwise.
    """

    intact: bool
    valid: bool
    trusted: bool
    signer: str
    signed_at: datetime | None
    coverage: str

    @property
    def ok(self) -> bool:
        """The document is exactly what the trusted signer sealed, nothing appended."""
        return self.intact and self.valid and self.trusted and self.coverage == "ENTIRE_FILE"


_unreadable = SignatureCheck(intact=False, valid=False, trusted=False, signer="", signed_at=None, coverage="UNREADABLE")


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    signer_name: str,
    reason: str,
    location: str,
    signed_at: datetime,
) -> bytes:
    """The PDF with one more, invisible PAdES-B-B signature field sealed by `identity`, claiming `signed_at`.

    `signer_name`, `reason` and `location` go into the signature dictionary (/Name, /Reason, /Location) and
    `signed_at` into /M, the PAdES claimed signing time (the CMS signing-time attribute is not used by PAdES).
    """
    _require_aware(signed_at, "signed_at")
    if not identity.certificate.not_valid_before_utc <= signed_at <= identity.certificate.not_valid_after_utc:
        raise ValueError(f"the seal's certificate is not valid at {signed_at.isoformat()}")
    pdf_signer = PdfSigner(
        PdfSignatureMetadata(
            field_name=FIELD_NAME,
            name=signer_name,
            reason=reason,
            location=location,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
        ),
        signer=identity.signer,
        new_field_spec=SigFieldSpec(sig_field_name=FIELD_NAME),
    )
    return asyncio.run(_sign(pdf_signer, pdf, signed_at, identity.bytes_reserved))


async def _sign(pdf_signer: PdfSigner, pdf: bytes, signed_at: datetime, bytes_reserved: int) -> bytes:
    """`PdfSigner.async_sign_pdf`, step by step, to set the signing time: its one-call form always reads the clock.

    Left out because they do nothing here: pre-signing validation (no validation context) and post-signing
    processing (no DSS, no document timestamp)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    session = pdf_signer.init_signing_session(writer)
    session.system_time = signed_at
    tbs_document = session.prepare_tbs_document(validation_info=None, bytes_reserved=bytes_reserved)
    prepared_digest, output = tbs_document.digest_tbs_document()
    await tbs_document.perform_signature(
        document_digest=prepared_digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(),  # unused: _SealAttributes provides the attributes
    )
    return cast(io.BytesIO, output).getvalue()


def verify_pdf(pdf: bytes, identity: SigningIdentity, *, at: datetime | None = None) -> SignatureCheck:
    """Check the PDF's last signature against `identity`'s certificate, offline (no fetching, soft revocation).

    `at` is the moment of validation; by default the signing time the signature claims, so an archived contract
    stays verifiable after the seal's certificate expires. A PDF pyHanko cannot read, or without signature, is
    reported as a failed check rather than raised.
    """
    try:
        signatures = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    except _UNREADABLE:
        return _unreadable
    if not signatures:
        return SignatureCheck(intact=False, valid=False, trusted=False, signer="", signed_at=None, coverage="UNSIGNED")
    embedded = signatures[-1]
    try:
        claimed = embedded.self_reported_timestamp
        context = ValidationContext(
            trust_roots=[identity.trust_root],
            allow_fetching=False,
            revocation_mode="soft-fail",
            moment=at or claimed,
        )
        status = validate_pdf_signature(embedded, signer_validation_context=context)
    except _UNREADABLE:
        return _unreadable
    subject = status.signing_cert.subject.native
    return SignatureCheck(
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        signer=str(subject.get("common_name", status.signing_cert.subject.human_friendly)),
        signed_at=status.signer_reported_dt,
        coverage=status.coverage.name if status.coverage is not None else "UNKNOWN",
    )


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def seal_added(unsealed: bytes, sealed: bytes, identity: SigningIdentity) -> bool:
    """Whether `sealed` is `unsealed` with one signature appended, made by `identity`'s key over the whole file.

    The check to run right after `sign_pdf`, before keeping what it made: the original bytes are untouched (a
    prefix), the one signature's byte range covers everything but its own /Contents, the container carries the
    identity's certificate, the CMS message digest is the SHA-256 of those bytes, and the signature over the signed
    attributes verifies with the identity's public key.
    It reads only the appended revision, where `verify_pdf` parses the whole file and validates the certificate
    path: about 0.25 ms against 5 ms (benchmarks/documents.py). For a document from elsewhere, `verify_pdf`."""
    if len(sealed) <= len(unsealed) or not sealed.startswith(unsealed):
        return False
    ranges = _BYTE_RANGE.findall(sealed, len(unsealed))
    if len(ranges) != 1:
        return False
    start, before, after, length = (int(number) for number in ranges[0])
    if start != 0 or after + length != len(sealed) or not before < after or before <= len(unsealed):
        return False
    if sealed[before : before + 1] != b"<" or sealed[after - 1 : after] != b">":
        return False
    try:
        encoded = container_in(bytes.fromhex(sealed[before + 1 : after - 1].decode("ascii")))
        if encoded is None:
            return False
        container = asn1_cms.ContentInfo.load(encoded, strict=True)
        signed_data = container["content"]
        if [c.chosen.dump() for c in signed_data["certificates"]] != [identity.trust_root.dump()]:
            return False  # the container carries the identity's certificate, and only it
        signer_info = signed_data["signer_infos"][0]
        if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
            return False
        attributes = signer_info["signed_attrs"]
        digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
        signature = signer_info["signature"].native
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError):
        return False
    if digests != [hashlib.sha256(sealed[:before] + sealed[after:]).digest()]:
        return False
    # The signature covers the attributes DER-encoded as a SET OF (RFC 5652, 5.4), not as the [0] they are stored in.
    signed = b"\x31" + attributes.dump()[1:]
    key = identity.certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def container_in(room: bytes) -> bytes | None:
    """The DER value at the start of the room a signature dictionary reserves for it, None unless the rest is zeros.

    Its extent comes from its own length header: the value may itself end with zero bytes (an ECDSA signature
    does, one time in 256), so stripping the padding's zeros would cut it."""
    try:
        _class, _method, _tag, header, contents, _trailer = asn1_parser.parse(room)
    except ValueError:
        return None
    extent = len(header) + len(contents)
    return room[:extent] if room[extent:].count(0) == len(room) - extent else None


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
