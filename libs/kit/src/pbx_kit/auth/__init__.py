"""Access tokens: identity signs short-lived EdDSA JWTs, every service verifies them locally.

Identity keeps a :class:`KeyRing` of Ed25519 keys (the newest signs, all verify, so
keys can be rotated without logging anyone out), issues tokens with its own
``TokenIssuer`` (``pbx_identity.tokens``) and serves :meth:`KeyRing.jwks` at
``/.well-known/jwks.json``. Every other service verifies with a :class:`TokenVerifier`
whose keys come from a :class:`JwksKeySource` (identity's JWKS over HTTP, through PyJWT's
``PyJWKClient``) or a
:class:`StaticKeySource` (the ring itself, in the embedded default).

Routes get the caller with the ``CurrentCaller`` / ``OptionalCaller`` dependencies
or ``require_roles(...)``; every refusal is problem+json through the DomainError
handler: 401 ``unauthorized`` (no or malformed ``Authorization``), 401
``invalid_token`` (any bad token, whatever the reason: the reason is only logged),
403 ``forbidden`` (none of the required roles).
"""

from __future__ import annotations

from pbx_kit.auth.claims import (
    ACCESS_TOKEN_TTL,
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    REQUIRED_CLAIMS,
    ROLES,
    TOKEN_TYPE,
    Caller,
)
from pbx_kit.auth.dependencies import (
    CurrentCaller,
    OptionalCaller,
    bearer_scheme,
    current_caller,
    install_auth,
    optional_caller,
    require_roles,
)
from pbx_kit.auth.errors import (
    AuthUnavailableError,
    ForbiddenError,
    InvalidTokenError,
    UnauthorizedError,
)
from pbx_kit.auth.keys import KeyRing, SigningKey, key_id, public_jwk
from pbx_kit.auth.verification import (
    JwksKeySource,
    PublicKeys,
    RefreshingKeySource,
    StaticKeySource,
    TokenVerifier,
)

__all__ = [
    "ACCESS_TOKEN_TTL",
    "ALGORITHM",
    "AUDIENCE",
    "ISSUER",
    "REQUIRED_CLAIMS",
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
    "PublicKeys",
    "RefreshingKeySource",
    "SigningKey",
    "StaticKeySource",
    "TokenVerifier",
    "UnauthorizedError",
    "bearer_scheme",
    "current_caller",
    "install_auth",
    "key_id",
    "optional_caller",
    "public_jwk",
    "require_roles",
]
