"""What an access token says: its fixed claims, the roles, and the verified ``Caller``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jwt

from pbx_kit.auth.errors import InvalidTokenError

if TYPE_CHECKING:
    from pbx_kit.auth.keys import KeyRing

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
#: claims an issuer sets itself (extra claims may not)
RESERVED_CLAIMS = frozenset({*REQUIRED_CLAIMS, "nbf", "ver"})
#: what a key id looks like (a JWK thumbprint, or a name given in settings)
KID_RE = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles, deduplicated in order; unknown roles or none at all are a ValueError."""
    unique = tuple(dict.fromkeys(roles))
    unknown = [r for r in unique if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles: {unknown}")
    if not unique:
        raise ValueError("a token needs at least one role")
    return unique


def access_token_claims(
    subject: str,
    roles: Iterable[str],
    *,
    token_version: int,
    now: datetime,
    ttl: int,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of an access token issued at ``now`` (unchecked: the issuer checks its
    inputs first); extra claims come first, so the reserved ones always win."""
    issued_at = int(now.timestamp())
    return {
        **(extra or {}),
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl,
        "jti": str(uuid.uuid4()),
        "roles": list(roles),
        "ver": token_version,
    }


def sign(ring: KeyRing, claims: Mapping[str, Any]) -> str:
    """The claims as an access token: signed with the ring's current key, its ``kid`` and
    the access-token ``typ`` in the header."""
    key = ring.current
    return jwt.encode(
        dict(claims),
        key.private_key,
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": TOKEN_TYPE},
    )


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
