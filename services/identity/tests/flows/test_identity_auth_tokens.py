"""Access tokens end to end against a real identity route (GET /accounts/me): every bad
token is a 401 problem, refresh tokens rotate with reuse detection, logout-all and a
password reset end older tokens, and the JWKS serves every live key (rotation).

Runs on the in-process bus and on real PostgreSQL + RabbitMQ (the ``stack`` fixture);
``identity_system`` comes from this folder's conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pbx_kit.auth import TOKEN_TYPE, key_id


def assert_invalid_token(response: httpx.Response, case: str) -> None:
    assert response.status_code == 401, (case, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", case
    problem = response.json()
    assert problem["status"] == 401, case
    assert problem["code"] == "invalid_token", (case, problem)
    assert "account_id" not in problem, case


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _flip(segment: str, at: int) -> str:
    """The base64url segment with one character changed (a different byte, not padding bits)."""
    replacement = "A" if segment[at] != "A" else "B"
    return segment[:at] + replacement + segment[at + 1 :]


async def test_every_bad_access_token_is_refused_with_401(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    sub = customer.account_id
    ring = s.key_ring
    current = ring.current
    header = {"alg": "EdDSA", "typ": TOKEN_TYPE, "kid": current.kid}

    # the control: a token made by this test's own helpers, with nothing wrong, is accepted
    good = s.sign(s.claims(sub))
    control = await s.me(good)
    assert control.status_code == 200, control.text
    assert control.json()["account_id"] == sub
    # ... and so is the token identity issued at login
    assert (await s.me(customer.access_token)).status_code == 200

    now = int(time.time())
    public_pem = current.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_raw = ring.public_keys()[current.kid].public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )

    def hs256(secret: bytes) -> str:
        signing_input = s.unsigned({**header, "alg": "HS256"}, s.claims(sub))
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(mac)}"

    head, payload, signature = good.split(".")
    admin_claims = _b64url(json.dumps(s.claims(sub, roles=["admin"])).encode())
    stranger = Ed25519PrivateKey.generate()
    stranger_kid = key_id(stranger.public_key())
    assert stranger_kid not in ring.public_keys()

    bad: dict[str, str] = {
        "alg none": s.unsigned({**header, "alg": "none"}, s.claims(sub)) + ".",
        "alg none with the good signature": (
            s.unsigned({**header, "alg": "none"}, s.claims(sub)) + "." + signature
        ),
        "HS256 keyed with the public key (PEM)": hs256(public_pem),
        "HS256 keyed with the public key (raw)": hs256(public_raw),
        "tampered signature": f"{head}.{payload}.{_flip(signature, len(signature) // 2)}",
        "tampered claims (roles: admin) with the old signature": (
            f"{head}.{admin_claims}.{signature}"
        ),
        "expired": s.sign(s.claims(sub, iat=now - 1000, nbf=now - 1000, exp=now - 100)),
        "nbf in the future": s.sign(s.claims(sub, iat=now, nbf=now + 600, exp=now + 900)),
        "wrong aud": s.sign(s.claims(sub, aud="pbx-other")),
        "wrong iss": s.sign(s.claims(sub, iss="https://evil.example")),
        "unknown kid (signed by a stranger's key)": s.sign(
            s.claims(sub), key=stranger, kid=stranger_kid
        ),
        "known kid, signed by a stranger's key": s.sign(s.claims(sub), key=stranger),
        "unknown kid, right key": s.sign(s.claims(sub), kid="no-such-key-id"),
    }
    for case, token in bad.items():
        assert_invalid_token(await s.me(token), case)
    # PyJWT's own alg:none, in case it differs from the hand-made one
    unsigned = jwt.encode(s.claims(sub), None, algorithm="none", headers={"kid": current.kid})
    assert_invalid_token(await s.me(unsigned), "alg none (PyJWT)")
    # nothing that was refused changed the account
    assert (await s.me(good)).status_code == 200


async def test_a_token_issued_before_a_password_reset_is_refused(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    assert (await s.me(customer.access_token)).status_code == 200
    token = await s.reminder_token(customer.login_id, customer.email)
    reset = await s.reset_password(token, s.NEW_PASSWORD)
    assert reset.status_code == 204, reset.text

    assert_invalid_token(await s.me(customer.access_token), "issued before the reset")
    fresh = await s.tokens(customer.login_id, s.NEW_PASSWORD)
    assert (await s.me(fresh["access_token"])).status_code == 200


async def test_a_token_issued_before_logout_everywhere_is_refused(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    other_device = await s.tokens(customer.login_id, customer.password, "192.0.2.77")
    assert (await s.me(other_device["access_token"])).status_code == 200

    logout = await s.client.post(
        "/auth/logout", json={"everywhere": True}, headers=customer.headers
    )
    assert logout.status_code == 204, logout.text

    assert_invalid_token(await s.me(customer.access_token), "the token that logged out")
    assert_invalid_token(await s.me(other_device["access_token"]), "another session's token")
    for refresh_token in (customer.refresh_token, other_device["refresh_token"]):
        refused = await s.client.post("/auth/refresh", json={"refresh_token": refresh_token})
        assert refused.status_code == 401, refused.text
    # logging in again works
    fresh = await s.tokens(customer.login_id, customer.password)
    assert (await s.me(fresh["access_token"])).status_code == 200


async def test_logout_ends_one_session_and_only_the_callers_own(identity_system: Any) -> None:
    s = identity_system
    alice = await s.customer()
    alice_phone = await s.tokens(alice.login_id, alice.password)
    bob = await s.customer()

    # Bob cannot end Alice's session with her refresh token
    foreign = await s.client.post(
        "/auth/logout", json={"refresh_token": alice.refresh_token}, headers=bob.headers
    )
    assert foreign.status_code == 401, foreign.text
    still = await s.client.post("/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert still.status_code == 200, still.text
    alice_refresh = still.json()["refresh_token"]

    ended = await s.client.post(
        "/auth/logout", json={"refresh_token": alice_refresh}, headers=alice.headers
    )
    assert ended.status_code == 204, ended.text
    gone = await s.client.post("/auth/refresh", json={"refresh_token": alice_refresh})
    assert gone.status_code == 401
    # her other session is untouched
    other = await s.client.post(
        "/auth/refresh", json={"refresh_token": alice_phone["refresh_token"]}
    )
    assert other.status_code == 200, other.text
    # logging out needs a login
    anonymous = await s.client.post("/auth/logout", json={"everywhere": True})
    assert anonymous.status_code == 401


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    first = customer.refresh_token

    rotated = await s.client.post("/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    tokens = rotated.json()
    second = tokens["refresh_token"]
    assert second != first
    assert tokens["token_type"] == "bearer"
    assert 0 < tokens["expires_in"] <= 900
    assert (await s.me(tokens["access_token"])).status_code == 200

    # the new refresh token works once more (rotation goes on)
    again = await s.client.post("/auth/refresh", json={"refresh_token": second})
    assert again.status_code == 200, again.text
    third = again.json()["refresh_token"]
    assert third not in (first, second)

    # the old one is refused ...
    reused = await s.client.post("/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401, reused.text
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["code"] == "invalid_refresh_token"
    # ... and, because it was reused, the whole family is revoked: the newest one too
    revoked = await s.client.post("/auth/refresh", json={"refresh_token": third})
    assert revoked.status_code == 401, revoked.text
    assert revoked.json()["code"] == "invalid_refresh_token"

    # another session of the same account is not part of that family
    other = await s.tokens(customer.login_id, customer.password)
    fine = await s.client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert fine.status_code == 200, fine.text


async def test_refresh_with_garbage_is_a_401_problem(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    session_hex = customer.refresh_token.partition(".")[0]
    for token in ("nonsense", f"{session_hex}.wrong-secret", f"{session_hex}.", "a.b.c"):
        refused = await s.client.post("/auth/refresh", json={"refresh_token": token})
        assert refused.status_code == 401, (token, refused.text)
        assert refused.json()["code"] == "invalid_refresh_token"
    # a wrong secret for a real session did not end it
    ok = await s.client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert ok.status_code == 200, ok.text


async def test_jwks_lists_every_live_key_and_old_tokens_survive_a_rotation(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    old_kid = s.key_ring.current.kid
    assert jwt.get_unverified_header(customer.access_token)["kid"] == old_kid

    before = await s.client.get("/.well-known/jwks.json")
    assert before.status_code == 200
    keys = before.json()["keys"]
    assert [k["kid"] for k in keys] == [old_kid]
    for jwk in keys:
        assert jwk["kty"] == "OKP"
        assert jwk["crv"] == "Ed25519"
        assert "d" not in jwk  # never the private part

    new_kid = s.key_ring.rotate().kid
    assert new_kid != old_kid
    after = await s.client.get("/.well-known/jwks.json")
    assert after.status_code == 200
    kids = [k["kid"] for k in after.json()["keys"]]
    assert sorted(kids) == sorted([old_kid, new_kid])
    assert all("d" not in k for k in after.json()["keys"])

    # a token signed before the rotation still works; new ones are signed with the new key
    assert (await s.me(customer.access_token)).status_code == 200
    fresh = await s.tokens(customer.login_id, customer.password)
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_kid
    assert (await s.me(fresh["access_token"])).status_code == 200
    # the JWKS verifies the new token (what other services do)
    public = jwt.PyJWK(next(k for k in after.json()["keys"] if k["kid"] == new_kid))
    claims = jwt.decode(
        fresh["access_token"],
        public.key,
        algorithms=["EdDSA"],
        audience="pbx",
        issuer="pbx-identity",
    )
    assert claims["sub"] == customer.account_id
    assert claims["roles"] == ["customer"]
    assert claims["exp"] - claims["iat"] <= 900
