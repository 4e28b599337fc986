"""Verifying access tokens locally: the ``TokenVerifier`` and where its keys come from."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pbx_kit.auth.claims import (
    ACCESS_TOKEN_TTL,
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    KID_RE,
    REQUIRED_CLAIMS,
    ROLES,
    TOKEN_TYPE,
    Caller,
)
from pbx_kit.auth.errors import AuthUnavailableError, InvalidTokenError
from pbx_kit.auth.keys import KeyRing, parse_jwks

log = structlog.get_logger("pbx.auth")

_ACCEPTED_TYPES = frozenset({TOKEN_TYPE, "application/" + TOKEN_TYPE})
_MAX_TOKEN_LENGTH = 8192


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
        if not isinstance(kid, str) or not KID_RE.match(kid):
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
