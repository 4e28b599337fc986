"""Verifying access tokens locally: the ``TokenVerifier`` and where its keys come from."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

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
from pbx_kit.auth.keys import KeyRing

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


class JwksKeySource:
    """Identity's public keys, fetched from its JWKS URL and cached by PyJWT's
    :class:`jwt.PyJWKClient`; only Ed25519 signing keys (``EdDSA``) are kept.

    The client refetches the set once it is ``refresh_interval`` seconds old, and when a
    token names a key id it does not know (a rotation) at most once per
    ``unknown_kid_interval`` seconds after a successful fetch, so random key ids cannot
    make a service hammer identity. What the client does not do is kept here: a failed
    fetch keeps the keys already known (the client would forget them once they expire)
    and is not tried again for ``unknown_kid_interval`` seconds (``retry_interval`` while
    none is known); with none known at all verification answers 503.
    """

    def __init__(
        self,
        url: str,
        *,
        refresh_interval: float = 300.0,
        unknown_kid_interval: float = 30.0,
        retry_interval: float = 1.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.unknown_kid_interval = unknown_kid_interval
        self.retry_interval = retry_interval
        # raises PyJWKClientError for anything but http(s); redirects are not followed
        self.client = jwt.PyJWKClient(
            url,
            lifespan=refresh_interval,
            cooldown_duration=unknown_kid_interval,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "pbx-kit"},
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] | None = None
        self._failed_at: float | None = None

    @staticmethod
    def _usable(signing_keys: list[jwt.PyJWK]) -> dict[str, Ed25519PublicKey]:
        # PyJWKClient already dropped keys without a kid, for another use than "sig", or
        # that it cannot parse; a JWK Set may still hold RSA, EC or HMAC keys
        return {
            jwk.key_id: jwk.key
            for jwk in signing_keys
            if jwk.algorithm_name == ALGORITHM
            and isinstance(jwk.key, Ed25519PublicKey)
            and jwk.key_id is not None
            and KID_RE.match(jwk.key_id)
        }

    def _keys_from(self, signing_keys: Callable[[], list[jwt.PyJWK]]) -> PublicKeys:
        """The keys ``signing_keys()`` gives, or on its failure the ones known (caller locks)."""
        now = self._clock()
        wait = self.retry_interval if self._keys is None else self.unknown_kid_interval
        if self._failed_at is None or now - self._failed_at >= wait:
            try:
                self._keys = self._usable(signing_keys())
                self._failed_at = None
            except Exception as exc:
                # PyJWKClientConnectionError, a set without usable keys, a body not JSON...
                self._failed_at = now
                log.warning("jwks_fetch_failed", url=self.url, error_type=type(exc).__name__)
        if self._keys is None:
            raise AuthUnavailableError()
        return self._keys

    def __call__(self) -> PublicKeys:
        with self._lock:
            # from the client's cache, fetched again once it is refresh_interval old
            return self._keys_from(self.client.get_signing_keys)

    def refresh(self, kid: str) -> PublicKeys:
        """Look again for an unknown key id (the client refetches at most once per
        ``unknown_kid_interval``)."""

        def looked_again() -> list[jwt.PyJWK]:
            try:
                self.client.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError:
                raise
            except jwt.PyJWKClientError:
                pass  # still unknown after a refetch, or too soon to refetch
            return self.client.get_signing_keys()  # the set just fetched, from the cache

        with self._lock:
            if self._keys is not None and kid in self._keys:
                return self._keys
            return self._keys_from(looked_again)


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
