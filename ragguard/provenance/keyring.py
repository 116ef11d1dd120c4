"""Keyring: key ids, rotation (old keys still verify) and revocation.

Key file (JSON, mode 0600)::

    {"format": "ragguard-keyring/1", "active": "h1a2b...",
     "keys": [{"id": "h1a2b...", "alg": "hmac-sha256", "secret": "<b64>",
               "created": "2026-11-28T00:00:00+00:00", "revoked": false}, ...]}

Ed25519 entries carry ``public`` and, when this keyring may sign, ``private``.
Key material never appears in ``repr``, errors, logs or store metadata.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ragguard._io import atomic_write_text
from ragguard.errors import SigningKeyError
from ragguard.provenance.signers import (
    Algorithm,
    Ed25519Signer,
    HmacSigner,
    Signer,
    b64decode,
    b64encode,
    derive_key_id,
    private_bytes,
    public_bytes,
)

_log = logging.getLogger(__name__)

KEYRING_FORMAT = "ragguard-keyring/1"
ENV_SIGNING_KEY = "RAGGUARD_SIGNING_KEY"
ENV_KEY_FILE = "RAGGUARD_KEY_FILE"


@dataclass
class _Entry:
    signer: Signer
    created: str
    revoked: bool = False


@dataclass
class Keyring:
    """Signing keys by id. One is active (signs); all unrevoked ones verify."""

    _entries: dict[str, _Entry] = field(default_factory=dict, repr=False)
    active_id: str | None = None

    # -- construction -----------------------------------------------------
    @classmethod
    def from_signers(cls, signers: Iterable[Signer], active_id: str | None = None) -> Keyring:
        """A keyring holding ``signers``; the first that can sign is active by default."""
        ring = cls()
        for s in signers:
            ring.add(s)
        if active_id is not None:
            ring.set_active(active_id)
        return ring

    @classmethod
    def generate(cls, algorithm: Algorithm = "hmac-sha256") -> Keyring:
        """A keyring with one freshly generated active key."""
        ring = cls()
        ring.rotate(algorithm)
        return ring

    @classmethod
    def from_secret(cls, secret: str) -> Keyring:
        """An HMAC keyring from a shared secret (e.g. ``RAGGUARD_SIGNING_KEY``).

        Raises:
            SigningKeyError: If the secret is shorter than 16 bytes.
        """
        raw = secret.encode("utf-8")
        signer = HmacSigner(key_id=derive_key_id("hmac-sha256", raw), secret=raw)
        return cls.from_signers([signer])

    # -- queries ----------------------------------------------------------
    def get(self, key_id: str) -> Signer | None:
        """The signer with this id, revoked or not; None if unknown."""
        entry = self._entries.get(key_id)
        return entry.signer if entry else None

    def is_revoked(self, key_id: str) -> bool:
        """True if the key is known and revoked."""
        entry = self._entries.get(key_id)
        return bool(entry and entry.revoked)

    @property
    def key_ids(self) -> list[str]:
        """All key ids, in insertion order."""
        return list(self._entries)

    def active(self) -> Signer:
        """The signer used for new seals.

        Raises:
            SigningKeyError: If no unrevoked key in the keyring can sign.
        """
        if self.active_id is None:
            if self._entries and all(e.revoked for e in self._entries.values()):
                raise SigningKeyError(
                    "every key in the keyring is revoked: add a new one (Keyring.rotate) before sealing"
                )
            raise SigningKeyError("the keyring has no key that can sign (a verify-only public copy?)")
        return self._entries[self.active_id].signer

    def describe(self) -> list[dict[str, Any]]:
        """Key ids, algorithms and states, without key material (safe to print)."""
        return [
            {
                "id": kid,
                "alg": e.signer.algorithm,
                "can_sign": e.signer.can_sign,
                "active": kid == self.active_id,
                "revoked": e.revoked,
                "created": e.created,
            }
            for kid, e in self._entries.items()
        ]

    # -- changes ----------------------------------------------------------
    def add(self, signer: Signer, *, created: str | None = None, revoked: bool = False) -> None:
        """Add a key. It becomes active if none is and it can sign."""
        self._entries[signer.key_id] = _Entry(signer, created or _now(), revoked)
        if self.active_id is None and signer.can_sign and not revoked:
            self.active_id = signer.key_id

    def set_active(self, key_id: str) -> None:
        """Make ``key_id`` the signing key.

        Raises:
            SigningKeyError: If the key is unknown, revoked or verify-only.
        """
        entry = self._entries.get(key_id)
        if entry is None:
            raise SigningKeyError(f"unknown key id {key_id!r}")
        if entry.revoked or not entry.signer.can_sign:
            raise SigningKeyError(f"key {key_id!r} is revoked or verify-only and cannot be active")
        self.active_id = key_id

    def rotate(self, algorithm: Algorithm = "hmac-sha256") -> Signer:
        """Generate a new key and make it active; old keys keep verifying."""
        signer: Signer = HmacSigner.generate() if algorithm == "hmac-sha256" else Ed25519Signer.generate()
        self.add(signer)
        self.active_id = signer.key_id
        return signer

    def revoke(self, key_id: str) -> None:
        """Revoke a key: chunks it sealed stop being served.

        Raises:
            SigningKeyError: If the key is unknown.
        """
        entry = self._entries.get(key_id)
        if entry is None:
            raise SigningKeyError(f"unknown key id {key_id!r}")
        entry.revoked = True
        if self.active_id == key_id:
            self.active_id = next((k for k, e in self._entries.items() if not e.revoked and e.signer.can_sign), None)

    def public(self) -> Keyring:
        """A verify-only copy: Ed25519 public keys only (HMAC secrets are not shared)."""
        ring = Keyring()
        for e in self._entries.values():
            if isinstance(e.signer, Ed25519Signer):
                ring.add(e.signer.public_only(), created=e.created, revoked=e.revoked)
        return ring

    # -- files ------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Serialisable form, including key material: write only to a 0600 file."""
        keys = []
        for kid, e in self._entries.items():
            item: dict[str, Any] = {"id": kid, "alg": e.signer.algorithm, "created": e.created, "revoked": e.revoked}
            if isinstance(e.signer, HmacSigner):
                item["secret"] = b64encode(e.signer.secret)
            elif isinstance(e.signer, Ed25519Signer):
                item["public"] = b64encode(public_bytes(e.signer.public_key))
                if e.signer.private_key is not None:
                    item["private"] = b64encode(private_bytes(e.signer.private_key))
            keys.append(item)
        return {"format": KEYRING_FORMAT, "active": self.active_id, "keys": keys}

    def save(self, path: str | os.PathLike[str], *, exclusive: bool = False) -> None:
        """Write atomically with mode 0600 (the file never exists with a wider mode).

        Raises:
            FileExistsError: With ``exclusive``, if the file exists (it is left as it is).
        """
        atomic_write_text(Path(path), json.dumps(self.to_json(), indent=2), mode=0o600, exclusive=exclusive)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read a key file.

        Raises:
            SigningKeyError: If the file is missing, readable by group/others, or malformed.
        """
        path = Path(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise SigningKeyError(f"key file {path} does not exist") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(
                f"key file {path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"run: chmod 600 {path}"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SigningKeyError(
                f"key file {path} is not a readable ragguard keyring ({type(exc).__name__})"
            ) from None
        return cls._from_json(data, str(path))

    @classmethod
    def _from_json(cls, data: Any, where: str) -> Keyring:
        if not isinstance(data, dict) or data.get("format") != KEYRING_FORMAT:
            raise SigningKeyError(f"{where} is not a {KEYRING_FORMAT} key file")
        ring = cls()
        try:
            for item in data["keys"]:
                signer = _signer_from_json(item)
                if signer.key_id != item["id"]:
                    raise SigningKeyError(f"{where}: key id {item['id']!r} does not match its key material")
                ring.add(signer, created=str(item.get("created", "")), revoked=bool(item.get("revoked")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a number where base64 goes, ...
            raise SigningKeyError(f"{where}: malformed key entry ({type(exc).__name__})") from None
        active = data.get("active")
        if active is not None:
            if not isinstance(active, str):
                raise SigningKeyError(f"{where}: 'active' must be a key id (a string)")
            ring.set_active(active)
        return ring


def _signer_from_json(item: dict[str, Any]) -> Signer:
    alg = item["alg"]
    if alg == "hmac-sha256":
        secret = b64decode(item["secret"])
        # Derived, never read: an edited id must fail the file's id check, as for Ed25519.
        return HmacSigner(key_id=derive_key_id("hmac-sha256", secret), secret=secret)
    if alg == "ed25519":
        public = Ed25519PublicKey.from_public_bytes(b64decode(item["public"]))
        private = Ed25519PrivateKey.from_private_bytes(b64decode(item["private"])) if item.get("private") else None
        kid = derive_key_id("ed25519", public_bytes(public))
        return Ed25519Signer(key_id=kid, public_key=public, private_key=private)
    raise SigningKeyError(f"unsupported key algorithm {alg!r}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def resolve_keyring(
    *,
    key_file: Path | None,
    secret: str | None,
    default_file: Path | None,
    create: bool,
) -> Keyring:
    """Find the keyring: a key file, else a shared secret, else the store's own key file.

    The embedded default generates a key file (mode 0600) on first ingest and
    logs where it is.

    Raises:
        SigningKeyError: If no key can be found (or made), naming what to set.
    """
    if key_file is not None:
        return Keyring.load(key_file)
    if secret:
        return Keyring.from_secret(secret)
    if default_file is None:
        raise SigningKeyError(
            "no signing key: set RAGGUARD_SIGNING_KEY or RAGGUARD_KEY_FILE (--key-file); a Chroma "
            "server has no local folder for a generated key"
        )
    if default_file.exists():
        return Keyring.load(default_file)
    if not create:
        raise SigningKeyError(
            f"no keyring at {default_file}: this store was never written by ragguard, or its key file "
            "was moved (pass --key-file or set RAGGUARD_KEY_FILE)"
        )
    ring = Keyring.generate()
    try:
        ring.save(default_file, exclusive=True)
    except FileExistsError:  # another process made the store's key first: seal with that one
        return Keyring.load(default_file)
    _log.warning(
        "generated a new signing key at %s (mode 0600). Back it up: chunks sealed with it cannot be "
        "verified without it.",
        default_file,
    )
    return ring
