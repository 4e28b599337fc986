"""Identity's Ed25519 signing keys: the ``KeyRing`` (rotation, files), ``SigningKey``, JWKs."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from pbx_kit.auth.claims import ALGORITHM, KID_RE

_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)
_CREATED_RE = re.compile(r"^\s*created:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
_KEY_FILE_PREFIX = "jwt-"
_KEY_FILE_SUFFIX = ".pem"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    """An OKP/Ed25519 JWK (RFC 8037) for a public key."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(_raw_public(public_key)),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 signing key and its key id."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)
    created_at: datetime

    @classmethod
    def generate(cls, *, now: datetime | None = None) -> SigningKey:
        private_key = Ed25519PrivateKey.generate()
        return cls(
            kid=key_id(private_key.public_key()),
            private_key=private_key,
            created_at=now or datetime.now(UTC),
        )

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.kid, self.public_key)

    def to_pem(self) -> str:
        """PKCS#8 PEM preceded by ``kid:`` and ``created:`` lines (read back by ``from_pems``)."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return f"kid: {self.kid}\ncreated: {self.created_at.isoformat()}\n{pem}"


def _parse_created(preamble: str) -> datetime | None:
    match = _CREATED_RE.search(preamble)
    if not match:
        return None
    try:
        created = datetime.fromisoformat(match.group(1))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def _parse_pem_text(text: str) -> list[tuple[Ed25519PrivateKey, datetime | None]]:
    """Every PEM private key in ``text`` with the ``created:`` line written before it."""
    found: list[tuple[Ed25519PrivateKey, datetime | None]] = []
    position = 0
    for match in _PEM_RE.finditer(text):
        preamble = text[position : match.start()]
        position = match.end()
        key = serialization.load_pem_private_key(match.group(0).encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("JWT signing keys must be Ed25519 private keys")
        found.append((key, _parse_created(preamble)))
    return found


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the key directory (processes starting together make one key)."""
    fd = os.open(directory / ".jwt.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), atomically."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


class KeyRing:
    """Ed25519 signing keys, oldest first: the newest signs, every one verifies (rotation)."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        ordered = sorted(keys, key=lambda k: k.created_at)  # stable: equal times keep order
        if not ordered:
            raise ValueError("a key ring needs at least one key")
        kids = [k.kid for k in ordered]
        if len(set(kids)) != len(kids):
            raise ValueError("duplicate key ids in the key ring")
        for kid in kids:
            if not KID_RE.match(kid):
                raise ValueError(f"invalid key id {kid!r}")
        self._keys: tuple[SigningKey, ...] = tuple(ordered)
        self._lock = threading.Lock()

    @classmethod
    def generate(cls) -> KeyRing:
        """A ring with one fresh key, kept in memory only (tests)."""
        return cls([SigningKey.generate()])

    @classmethod
    def from_pems(cls, pems: Sequence[str]) -> KeyRing:
        """Keys from PEM text (settings). Each item may hold several PEM blocks.

        A ``created:`` line before a block (as ``SigningKey.to_pem`` writes) orders the
        keys; blocks without one count as older and keep their order (oldest first, so
        the last one given signs).
        """
        keys: list[SigningKey] = []
        for pem in pems:
            parsed = _parse_pem_text(pem)
            if not parsed:
                raise ValueError("no PEM private key found")
            for private_key, created in parsed:
                keys.append(
                    SigningKey(
                        kid=key_id(private_key.public_key()),
                        private_key=private_key,
                        created_at=created or _EPOCH,
                    )
                )
        return cls(keys)

    @classmethod
    def load_or_create(cls, directory: Path) -> KeyRing:
        """The keys in ``directory`` (``jwt-<kid>.pem``, mode 0600); one new key if none."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(directory):
            keys = [cls._load_file(path) for path in sorted(directory.glob("jwt-*.pem"))]
            if not keys:
                key = SigningKey.generate()
                cls._save(directory, key)
                keys = [key]
        return cls(keys)

    @staticmethod
    def _load_file(path: Path) -> SigningKey:
        kid = path.name[len(_KEY_FILE_PREFIX) : -len(_KEY_FILE_SUFFIX)]
        if not KID_RE.match(kid):
            raise ValueError(f"{path.name}: invalid key id in the file name")
        parsed = _parse_pem_text(path.read_text(encoding="ascii"))
        if len(parsed) != 1:
            raise ValueError(f"{path.name}: expected exactly one PEM private key")
        private_key, created = parsed[0]
        if created is None:
            created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return SigningKey(kid=kid, private_key=private_key, created_at=created)

    @staticmethod
    def _save(directory: Path, key: SigningKey) -> None:
        _write_private(directory / f"{_KEY_FILE_PREFIX}{key.kid}{_KEY_FILE_SUFFIX}", key.to_pem())

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        """Every key, oldest first."""
        return self._keys

    @property
    def current(self) -> SigningKey:
        """The key that signs new tokens (the newest)."""
        return self._keys[-1]

    def rotate(self, directory: Path | None = None) -> SigningKey:
        """Add a new newest key (saved to ``directory`` if given); old keys keep verifying."""
        with self._lock:
            newest = self._keys[-1].created_at
            now = max(datetime.now(UTC), newest + timedelta(microseconds=1))
            key = SigningKey.generate(now=now)
            if directory is not None:
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                with _locked(directory):
                    self._save(directory, key)
            self._keys = (*self._keys, key)
        return key

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {k.kid: k.public_key for k in self._keys}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set to serve at ``/.well-known/jwks.json`` (newest first)."""
        return {"keys": [k.public_jwk() for k in reversed(self._keys)]}
