"""Access tokens: identity signs short-lived EdDSA JWTs, every service verifies them locally.

Identity keeps a :class:`KeyRing` of Ed25519 keys (the newest signs, all verify, so
keys can be rotated without logging anyone out), issues tokens with
:class:`TokenIssuer` and serves :meth:`KeyRing.jwks` at ``/.well-known/jwks.json``.
Every other service verifies with a :class:`TokenVerifier` whose keys come from a
:class:`JwksKeySource` (identity's JWKS over HTTP) or a :class:`StaticKeySource`
(the ring itself, in the embedded default).

Routes get the caller with the ``CurrentCaller`` / ``OptionalCaller`` dependencies
or ``require_roles(...)``; every refusal is problem+json through the DomainError
handler: 401 ``unauthorized`` (no or malformed ``Authorization``), 401
``invalid_token`` (any bad token, whatever the reason: the reason is only logged),
403 ``forbidden`` (none of the required roles).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Protocol, runtime_checkable

import anyio
import httpx
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pbx_kit.problems import DomainError

__all__ = [
    "ACCESS_TOKEN_TTL",
    "AUDIENCE",
    "ISSUER",
    "ROLES",
    "TOKEN_TYPE",
    "AuthUnavailableError",
    "Caller",
    "CurrentCaller",
    "ForbiddenError",
    "InvalidTokenError",
    "JwksKeySource",
    "KeyRing",
    "OptionalCaller",
    "SigningKey",
    "StaticKeySource",
    "TokenIssuer",
    "TokenVerifier",
    "UnauthorizedError",
    "bearer_scheme",
    "current_caller",
    "install_auth",
    "optional_caller",
    "require_roles",
]

log = structlog.get_logger("pbx.auth")

ROLES = ("customer", "reviewer", "warehouse", "auditor", "admin")
AUDIENCE = "pbx"
ISSUER = "pbx-identity"
#: access token lifetime in seconds (15 minutes, also the maximum a verifier accepts)
ACCESS_TOKEN_TTL = 900
#: the JOSE ``typ`` of an access token (RFC 9068); other JWTs signed by the same key are refused
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
ALGORITHM = "EdDSA"

#: claims every access token carries (``jti``: ``Caller.token_id``)
REQUIRED_CLAIMS = ("sub", "exp", "iat", "aud", "iss", "roles", "jti")
_RESERVED_CLAIMS = frozenset({*REQUIRED_CLAIMS, "nbf", "ver"})
_ACCEPTED_TYPES = frozenset({TOKEN_TYPE, "application/" + TOKEN_TYPE})
_MAX_TOKEN_LENGTH = 8192
_KID_RE = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")
_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)
_CREATED_RE = re.compile(r"^\s*created:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
_KEY_FILE_PREFIX = "jwt-"
_KEY_FILE_SUFFIX = ".pem"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- errors -------------------------------------------------------------------------


class UnauthorizedError(DomainError):
    """No usable ``Authorization: Bearer`` header (401)."""

    code = "unauthorized"
    status = 401
    title = "Unauthorized"
    message_ja = "認証が必要です。ログインしてください。"
    headers: Mapping[str, str] | None = MappingProxyType({"WWW-Authenticate": "Bearer"})


class InvalidTokenError(UnauthorizedError):
    """A bearer token that is not a valid, current access token (401), whatever the reason."""

    code = "invalid_token"
    message_ja = "認証情報が無効です。再度ログインしてください。"
    headers: Mapping[str, str] | None = MappingProxyType(
        {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__()
        #: why (for logs and tests only; never sent to the client)
        self.reason = reason


class ForbiddenError(DomainError):
    """The caller is authenticated but has none of the roles a route needs (403)."""

    code = "forbidden"
    status = 403
    title = "Forbidden"
    message_ja = "この操作を行う権限がありません。"


class AuthUnavailableError(DomainError):
    """No verification keys could be obtained (identity's JWKS unreachable) (503)."""

    code = "auth_unavailable"
    status = 503
    title = "Service Unavailable"
    message_ja = "認証サービスに接続できません。時間をおいて再度お試しください。"


# --- keys ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
            if not _KID_RE.match(kid):
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
        if not _KID_RE.match(kid):
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


# --- issuing ------------------------------------------------------------------------


def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(roles))
    unknown = [r for r in unique if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles: {unknown}")
    if not unique:
        raise ValueError("a token needs at least one role")
    return unique


class TokenIssuer:
    """Signs access tokens with the ring's current key (identity only)."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        ttl: int = ACCESS_TOKEN_TTL,
    ) -> None:
        if not 0 < ttl <= ACCESS_TOKEN_TTL:
            raise ValueError(f"ttl must be 1..{ACCESS_TOKEN_TTL} seconds")
        self.ring = ring
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl

    def issue(
        self,
        subject: str,
        roles: Sequence[str],
        *,
        token_version: int = 0,
        now: datetime | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        if not isinstance(subject, str) or not subject:
            raise ValueError("subject must be a non-empty string")
        if isinstance(roles, str):
            raise TypeError("roles must be a sequence of role names, not a string")
        checked = _check_roles(roles)
        if isinstance(token_version, bool) or not isinstance(token_version, int):
            raise TypeError("token_version must be an int")
        if token_version < 0:
            raise ValueError("token_version must not be negative")
        if extra and _RESERVED_CLAIMS.intersection(extra):
            raise ValueError(f"extra claims may not set {sorted(_RESERVED_CLAIMS & set(extra))}")
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        issued_at = int(moment.timestamp())
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.ttl,
            "jti": str(uuid.uuid4()),
            "roles": list(checked),
            "ver": token_version,
        }
        key = self.ring.current
        return jwt.encode(
            claims,
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": TOKEN_TYPE},
        )


# --- verifying ----------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who is calling, from a verified access token."""

    subject: str
    roles: frozenset[str]
    token_version: int
    token_id: str
    issued_at: datetime

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def subject_uuid(self) -> uuid.UUID:
        """The subject as an account id; a token whose subject is none is invalid (401)."""
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            raise InvalidTokenError("subject is not a UUID") from None


PublicKeys = Mapping[str, Ed25519PublicKey]


@runtime_checkable
class RefreshingKeySource(Protocol):
    """A key source that can look again for a key id it does not know (rotation)."""

    def __call__(self) -> PublicKeys: ...

    def refresh(self, kid: str) -> PublicKeys: ...


class StaticKeySource:
    """Keys from a ring in this process (embedded default) or a fixed mapping."""

    def __init__(self, ring_or_keys: KeyRing | PublicKeys) -> None:
        self._ring = ring_or_keys if isinstance(ring_or_keys, KeyRing) else None
        self._keys: dict[str, Ed25519PublicKey] = (
            {} if isinstance(ring_or_keys, KeyRing) else dict(ring_or_keys)
        )

    def __call__(self) -> PublicKeys:
        # a ring is read on every call, so its rotations are seen at once
        return self._ring.public_keys() if self._ring is not None else self._keys


def _jwk_public_key(jwk: Any) -> tuple[str, Ed25519PublicKey] | None:
    """An OKP/Ed25519 signing key from a JWK, or None for anything else."""
    if not isinstance(jwk, dict):
        return None
    kid, x = jwk.get("kid"), jwk.get("x")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
        return None
    if not isinstance(kid, str) or not _KID_RE.match(kid) or not isinstance(x, str):
        return None
    try:
        raw = _b64url_decode(x)
        if len(raw) != 32:
            return None
        return kid, Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def parse_jwks(document: Any) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 signing keys of a JWK Set (other keys are skipped)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in document["keys"]:
        parsed = _jwk_public_key(jwk)
        if parsed is not None:
            keys[parsed[0]] = parsed[1]
    return keys


_MAX_JWKS_BYTES = 1_048_576


def fetch_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and decode its JSON (at most ``_MAX_JWKS_BYTES``)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("JWKS URL must be http(s)")
    response = httpx.get(url, timeout=timeout, headers={"Accept": "application/json"})
    response.raise_for_status()
    body = response.content
    if len(body) > _MAX_JWKS_BYTES:
        raise ValueError("JWKS document too large")
    return json.loads(body)


class JwksKeySource:
    """Identity's public keys fetched from its JWKS URL and cached.

    Refetched every ``refresh_interval`` seconds, and when a token names a key id the
    cache does not know (a rotation) at most once per ``unknown_kid_interval`` seconds,
    so random key ids cannot make a service hammer identity. A failed fetch keeps the
    keys already known; with none known at all verification answers 503.
    """

    def __init__(
        self,
        url: str,
        *,
        refresh_interval: float = 300.0,
        unknown_kid_interval: float = 30.0,
        retry_interval: float = 1.0,
        timeout: float = 5.0,
        fetch: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refresh_interval = refresh_interval
        self.unknown_kid_interval = unknown_kid_interval
        self.retry_interval = retry_interval
        self._fetch = fetch or (lambda u: fetch_json(u, timeout))
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None

    def _load(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = parse_jwks(self._fetch(self.url))
        except Exception as exc:
            log.warning("jwks_fetch_failed", url=self.url, error_type=type(exc).__name__)
            return
        self._keys = keys
        self._fetched_at = now

    def _since_attempt(self, now: float) -> float:
        return float("inf") if self._attempted_at is None else now - self._attempted_at

    def __call__(self) -> PublicKeys:
        with self._lock:
            now = self._clock()
            if self._keys is None:
                if self._since_attempt(now) >= self.retry_interval:
                    self._load(now)
            elif (
                now - self._fetched_at >= self.refresh_interval
                and self._since_attempt(now) >= self.unknown_kid_interval
            ):
                self._load(now)
            if self._keys is None:
                raise AuthUnavailableError()
            return self._keys

    def refresh(self, kid: str) -> PublicKeys:
        """Look again for an unknown key id (at most once per ``unknown_kid_interval``)."""
        with self._lock:
            now = self._clock()
            known = self._keys or {}
            if kid not in known and self._since_attempt(now) >= self.unknown_kid_interval:
                self._load(now)
            if self._keys is None:
                raise AuthUnavailableError()
            return self._keys


#: what parsing hostile input may raise besides PyJWT's own errors (deeply nested JSON:
#: RecursionError)
_PARSE_ERRORS = (jwt.PyJWTError, ValueError, TypeError, RecursionError)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class TokenVerifier:
    """Verifies access tokens locally; every bad token is an ``InvalidTokenError`` (401).

    The key is chosen by the header's ``kid`` only, and only ``EdDSA`` is accepted, so
    ``alg: none`` and HS256-with-the-public-key tokens fail whatever their header says.
    ``revocation(caller)`` returning True refuses an otherwise good token (identity:
    issued before a password reset or logout-all, from the ``ver`` claim).
    """

    def __init__(
        self,
        public_keys: Callable[[], PublicKeys],
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        leeway: int = 5,
        revocation: Callable[[Caller], bool] | None = None,
        max_lifetime: int = ACCESS_TOKEN_TTL,
    ) -> None:
        self.public_keys = public_keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.revocation = revocation
        self.max_lifetime = max_lifetime

    def verify(self, token: str) -> Caller:
        try:
            return self._verify(token)
        except InvalidTokenError as exc:
            log.info("token_rejected", reason=exc.reason)
            raise

    def _key_for(self, kid: str) -> Ed25519PublicKey:
        keys = self.public_keys()
        key = keys.get(kid)
        if key is None and isinstance(self.public_keys, RefreshingKeySource):
            key = self.public_keys.refresh(kid).get(kid)
        if key is None:
            raise InvalidTokenError("unknown kid")
        return key

    def _verify(self, token: str) -> Caller:
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidTokenError("malformed")
        if not token.isascii() or token.count(".") != 2:
            raise InvalidTokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except _PARSE_ERRORS:
            raise InvalidTokenError("malformed header") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError("algorithm")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
            raise InvalidTokenError("type")
        if "crit" in header or "b64" in header:
            raise InvalidTokenError("critical header")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID_RE.match(kid):
            raise InvalidTokenError("missing kid")
        key = self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(type(exc).__name__) from None
        except _PARSE_ERRORS:
            raise InvalidTokenError("malformed") from None
        caller = self._caller(claims)
        if self.revocation is not None and self.revocation(caller):
            raise InvalidTokenError("revoked")
        return caller

    def _caller(self, claims: Mapping[str, Any]) -> Caller:
        subject, roles, jti = claims["sub"], claims["roles"], claims["jti"]
        issued_at, expires = claims["iat"], claims["exp"]
        version = claims.get("ver", 0)
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError("subject")
        if not isinstance(jti, str) or not jti:
            raise InvalidTokenError("jti")
        if not isinstance(roles, list) or not roles:
            raise InvalidTokenError("roles")
        if not all(isinstance(r, str) and r in ROLES for r in roles):
            raise InvalidTokenError("roles")
        if not all(_is_int(claims[c]) for c in ("iat", "exp", "nbf") if c in claims):
            raise InvalidTokenError("time claims")
        if not 0 < expires - issued_at <= self.max_lifetime:
            raise InvalidTokenError("lifetime")
        if not _is_int(version) or version < 0:
            raise InvalidTokenError("version")
        return Caller(
            subject=subject,
            roles=frozenset(roles),
            token_version=version,
            token_id=jti,
            issued_at=datetime.fromtimestamp(issued_at, UTC),
        )


# --- FastAPI ------------------------------------------------------------------------


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    """Make ``verifier`` the one the auth dependencies of ``app`` use."""
    app.state.token_verifier = verifier


def _verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("install_auth(app, verifier) was not called")
    return verifier


#: how OpenAPI documents the token (a generated client sends ``Authorization: Bearer``);
#: the header itself is read and judged below, so every refusal is our problem+json
bearer_scheme = HTTPBearer(
    bearerFormat="JWT",
    scheme_name="bearerAuth",
    description="An access token from identity's `POST /identity/auth/token` "
    "(EdDSA JWT, 15 minutes).",
    auto_error=False,
)
_Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _bearer_token(request: Request) -> str | None:
    """The bearer token, None without an ``Authorization`` header; malformed -> 401."""
    values = request.headers.getlist("authorization")
    if not values:
        return None
    parts = values[0].split()
    if len(values) > 1 or len(parts) != 2 or parts[0].lower() != "bearer":
        raise UnauthorizedError()
    return parts[1]


async def _session_floor(request: Request, caller: Caller) -> int:
    edge = getattr(request.app.state, "edge", None)
    floors = getattr(edge, "session_floors", None)
    if floors is None:
        return 0
    return int(await floors.floor(caller.subject))


async def current_caller(request: Request, _credentials: _Bearer = None) -> Caller:
    """Dependency: the verified caller (401 without a valid bearer token, or with one
    issued before the account's sessions ended: a password reset, "log out everywhere")."""
    token = _bearer_token(request)
    if token is None:
        raise UnauthorizedError()
    verifier = _verifier(request)
    # in a worker thread: a JWKS refetch or identity's own revocation check may block
    caller = await anyio.to_thread.run_sync(verifier.verify, token)
    if caller.token_version < await _session_floor(request, caller):
        log.info("token_rejected", reason="sessions ended")
        raise InvalidTokenError("sessions ended")
    request.state.caller = caller
    return caller


async def optional_caller(request: Request, _credentials: _Bearer = None) -> Caller | None:
    """Dependency: the caller, or None without an ``Authorization`` header (a bad one is 401)."""
    if not request.headers.getlist("authorization"):
        return None
    return await current_caller(request)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


def require_roles(*roles: str) -> Callable[..., Caller]:
    """Dependency factory: the caller if they have any of ``roles`` (401, else 403)."""
    wanted = frozenset(_check_roles(roles))

    def dependency(caller: CurrentCaller) -> Caller:
        if wanted.isdisjoint(caller.roles):
            raise ForbiddenError()
        return caller

    dependency.__name__ = "require_" + "_or_".join(sorted(wanted))
    return dependency
