"""Identity issues the access tokens (short-lived EdDSA JWTs); the kit verifies them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pbx_kit.auth import KeyRing
from pbx_kit.auth.claims import (
    ACCESS_TOKEN_TTL,
    AUDIENCE,
    ISSUER,
    RESERVED_CLAIMS,
    access_token_claims,
    check_roles,
    sign,
)


class TokenIssuer:
    """Signs access tokens with the ring's current key; every service verifies them."""

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
        checked = check_roles(roles)
        if isinstance(token_version, bool) or not isinstance(token_version, int):
            raise TypeError("token_version must be an int")
        if token_version < 0:
            raise ValueError("token_version must not be negative")
        if extra and RESERVED_CLAIMS.intersection(extra):
            raise ValueError(f"extra claims may not set {sorted(RESERVED_CLAIMS & set(extra))}")
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        claims = access_token_claims(
            subject,
            checked,
            token_version=token_version,
            now=moment,
            ttl=self.ttl,
            issuer=self.issuer,
            audience=self.audience,
            extra=extra,
        )
        return sign(self.ring, claims)
