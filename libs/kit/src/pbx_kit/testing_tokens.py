"""A test-only token minter: signs access tokens as identity would, for tests of any service.

Identity's ``pbx_identity.tokens.TokenIssuer`` is the one that issues tokens in the
system (and checks what it is asked to sign); libraries and the other services may not
import identity, so their tests mint tokens here, with the same claims and header.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jwt

from pbx_kit.auth import KeyRing
from pbx_kit.auth.claims import ACCESS_TOKEN_TTL, ALGORITHM, AUDIENCE, ISSUER, TOKEN_TYPE


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
        issued_at = int((now or datetime.now(UTC)).timestamp())
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.ttl,
            "jti": str(uuid.uuid4()),
            "roles": list(roles),
            "ver": token_version,
        }
        key = self.ring.current
        return jwt.encode(
            claims,
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": TOKEN_TYPE},
        )
