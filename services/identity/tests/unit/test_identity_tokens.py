"""Identity's token issuer: what it refuses to sign; every service accepts what it signs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from pbx_identity.tokens import TokenIssuer
from pbx_kit.auth import ACCESS_TOKEN_TTL, KeyRing, StaticKeySource, TokenVerifier
from pbx_kit.testing_tokens import TokenMinter

ACCOUNT = "0b6f4a36-6a1e-4a57-9d44-3a1c5b2f9e10"


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


def test_issuer_refuses_long_ttls_unknown_roles_and_reserved_extras(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="ttl"):
        TokenIssuer(ring, ttl=ACCESS_TOKEN_TTL + 1)
    issuer = TokenIssuer(ring, ttl=60)
    claims = jwt.decode(issuer.issue(ACCOUNT, ["admin"]), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    with pytest.raises(ValueError, match="roles"):
        issuer.issue(ACCOUNT, ["root"])
    with pytest.raises(ValueError, match="role"):
        issuer.issue(ACCOUNT, [])
    with pytest.raises(TypeError):
        issuer.issue(ACCOUNT, "admin")
    with pytest.raises(ValueError, match="roles"):
        issuer.issue(ACCOUNT, ["customer"], extra={"roles": ["admin"]})
    with pytest.raises(ValueError, match="subject"):
        issuer.issue("", ["customer"])
    token = issuer.issue(ACCOUNT, ["customer"], extra={"sid": "abc"})
    assert jwt.decode(token, options={"verify_signature": False})["sid"] == "abc"


def test_a_token_identity_issues_is_accepted_by_the_kits_verifier(ring: KeyRing) -> None:
    token = TokenIssuer(ring).issue(ACCOUNT, ["customer", "auditor"], token_version=2)
    caller = TokenVerifier(StaticKeySource(ring)).verify(token)
    assert caller.subject == ACCOUNT
    assert caller.roles == frozenset({"customer", "auditor"})
    assert caller.token_version == 2


def test_a_minted_and_an_issued_token_carry_the_same_claim_names_and_header(
    ring: KeyRing,
) -> None:
    moment = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    inputs: dict[str, Any] = {"token_version": 3, "now": moment, "extra": {"sid": "abc"}}
    issued = TokenIssuer(ring).issue(ACCOUNT, ["customer"], **inputs)
    minted = TokenMinter(ring).issue(ACCOUNT, ["customer"], **inputs)
    assert jwt.get_unverified_header(issued) == jwt.get_unverified_header(minted)
    issued_claims = jwt.decode(issued, options={"verify_signature": False})
    minted_claims = jwt.decode(minted, options={"verify_signature": False})
    assert issued_claims.keys() == minted_claims.keys()
    assert {k: v for k, v in issued_claims.items() if k != "jti"} == {
        k: v for k, v in minted_claims.items() if k != "jti"
    }
