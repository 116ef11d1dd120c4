"""Signers: HMAC-SHA256 (default) and Ed25519.

A :class:`Signer` holds one key. Ed25519 lets a sidecar sign while retrievers
hold only the public key (a verify-only signer). Key material never appears in
``repr``, errors or logs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ragguard.errors import SigningKeyError

Algorithm = Literal["hmac-sha256", "ed25519"]
MIN_HMAC_KEY_BYTES = 16


class Signer(Protocol):
    """Signs and verifies canonical bytes with one key."""

    @property
    def key_id(self) -> str:
        """Stable id recorded in every seal."""
        ...

    @property
    def algorithm(self) -> Algorithm:
        """``hmac-sha256`` or ``ed25519``."""
        ...

    @property
    def can_sign(self) -> bool:
        """False for verify-only keys (an Ed25519 public key)."""
        ...

    def sign(self, data: bytes) -> str:
        """Return the signature as base64 (url-safe, unpadded)."""
        ...

    def verify(self, data: bytes, signature: str) -> bool:
        """True iff ``signature`` is a valid signature of ``data`` under this key."""
        ...


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature_bytes(text: str) -> bytes:
    """Decode a signature: unpadded URL-safe base64, refusing any other spelling of the same bytes.

    The lenient decoder skips junk characters and accepts padding, the standard
    alphabet and non-zero trailing bits; refusing them keeps one signature one string.
    """
    raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(raw) != text:
        raise ValueError("not canonical unpadded URL-safe base64")
    return raw


def derive_key_id(algorithm: Algorithm, public_material: bytes) -> str:
    """A stable key id. For HMAC it hashes the secret (safe: SHA-256 is one-way)."""
    tag = "h" if algorithm == "hmac-sha256" else "e"
    digest = hashlib.sha256(b"ragguard-key-id\x00" + public_material).hexdigest()
    return f"{tag}{digest[:15]}"


@dataclass(frozen=True)
class HmacSigner:
    """HMAC-SHA256 with a shared secret (at least 16 bytes)."""

    key_id: str
    secret: bytes = field(repr=False)
    algorithm: Algorithm = "hmac-sha256"

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_HMAC_KEY_BYTES:
            raise SigningKeyError(
                f"HMAC key {self.key_id!r} is {len(self.secret)} bytes; at least {MIN_HMAC_KEY_BYTES} are required"
            )

    @classmethod
    def generate(cls) -> HmacSigner:
        """A fresh random 32-byte key."""
        secret = os.urandom(32)
        return cls(key_id=derive_key_id("hmac-sha256", secret), secret=secret)

    @property
    def can_sign(self) -> bool:
        """HMAC keys always sign."""
        return True

    def sign(self, data: bytes) -> str:
        """HMAC-SHA256 of ``data``, base64."""
        mac = self._template.copy()
        mac.update(data)
        return _b64(mac.digest())

    @functools.cached_property
    def _template(self) -> hmac.HMAC:
        # Copied per tag, not hmac.digest: that one looks SHA-256 up in OpenSSL on every
        # call, which costs more than the MAC of a seal-sized message and runs for every
        # retrieved chunk (bench/perf.py). A cache beside the frozen fields, not a field.
        return hmac.new(self.secret, digestmod=hashlib.sha256)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fields only (the cached keyed template is rebuilt on first use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_template"}

    def verify(self, data: bytes, signature: str) -> bool:
        """Constant-time comparison of the expected tag's canonical encoding with ``signature``.

        Comparing encodings rather than decoded bytes refuses every other spelling
        of the same tag (padding, the standard alphabet, stray bits) without a
        decode on the retrieval path.
        """
        if type(signature) is not str or not signature.isascii():
            return False
        return hmac.compare_digest(self.sign(data), signature)


@dataclass(frozen=True)
class Ed25519Signer:
    """Ed25519; ``private_key`` is None for a verify-only signer."""

    key_id: str
    public_key: Ed25519PublicKey = field(repr=False)
    private_key: Ed25519PrivateKey | None = field(default=None, repr=False)
    algorithm: Algorithm = "ed25519"

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A fresh key pair."""
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        return cls(key_id=derive_key_id("ed25519", public_bytes(public)), public_key=public, private_key=private)

    @property
    def can_sign(self) -> bool:
        """True when the private key is held."""
        return self.private_key is not None

    def sign(self, data: bytes) -> str:
        """Ed25519 signature of ``data``, base64.

        Raises:
            SigningKeyError: If this signer holds only the public key.
        """
        if self.private_key is None:
            raise SigningKeyError(f"key {self.key_id!r} is verify-only (public key); it cannot sign")
        return _b64(self.private_key.sign(data))

    def verify(self, data: bytes, signature: str) -> bool:
        """Verify with the public key."""
        try:
            self.public_key.verify(_signature_bytes(signature), data)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def public_only(self) -> Ed25519Signer:
        """The verify-only twin of this signer (for retrievers)."""
        return Ed25519Signer(key_id=self.key_id, public_key=self.public_key)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """Raw 32-byte public key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def private_bytes(key: Ed25519PrivateKey) -> bytes:
    """Raw 32-byte private key."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def b64encode(raw: bytes) -> str:
    """URL-safe unpadded base64 (the encoding used for signatures and key files)."""
    return _b64(raw)


def b64decode(text: str) -> bytes:
    """Inverse of :func:`b64encode`; also accepts padded and standard base64."""
    text = text.strip().replace("+", "-").replace("/", "_")
    return _unb64(text.rstrip("="))
