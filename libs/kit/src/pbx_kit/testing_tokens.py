"""A test-only token minter: signs access tokens as identity would, for tests of any service.

Identity's ``pbx_identity.tokens.TokenIssuer`` is the one that issues tokens in the
system (and checks what it is asked to sign); libraries and the other services may not
import identity, so their tests mint tokens here, with the same claims and header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pbx_kit.auth import KeyRing
from pbx_kit.auth.claims import ACCESS_TOKEN_TTL, AUDIENCE, ISSUER, access_token_claims, sign


class TokenMinter:
    """Signs access tokens with the ring's current key (tests only)."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        ttl: int = ACCESS_TOKEN_TTL,
    ) -> None:
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
        claims = access_token_claims(
            subject,
            roles,
            token_version=token_version,
            now=now or datetime.now(UTC),
            ttl=self.ttl,
            issuer=self.issuer,
            audience=self.audience,
            extra=extra,
        )
        return sign(self.ring, claims)
