"""Access tokens (``pbx_kit.auth``): issue, verify, rotate, and the FastAPI dependencies.

Every token in the negative suite must be refused twice: by ``TokenVerifier.verify``
(``InvalidTokenError``) and over HTTP by a tiny service built with ``create_app``
(401 problem+json ``invalid_token`` with ``WWW-Authenticate``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import socket
import stat
import threading
import time
import types
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import jwt.api_jwk
import jwt.jwk_set_cache
import jwt.jwks_client
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, FastAPI, Response

from pbx_kit.app import create_app
from pbx_kit.auth import (
    ACCESS_TOKEN_TTL,
    AUDIENCE,
    ISSUER,
    ROLES,
    AuthUnavailableError,
    Caller,
    CurrentCaller,
    InvalidTokenError,
    JwksKeySource,
    KeyRing,
    OptionalCaller,
    SigningKey,
    StaticKeySource,
    TokenVerifier,
    install_auth,
    require_roles,
)
from pbx_kit.problems import TYPE_BASE
from pbx_kit.testing_tokens import TokenMinter

PROBLEM = "application/problem+json"
ACCOUNT = "0b6f4a36-6a1e-4a57-9d44-3a1c5b2f9e10"


# --- helpers -------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": ACCOUNT,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "roles": ["customer"],
        "ver": 0,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    """A correctly Ed25519-signed token with any claims and header (``x=None`` drops x)."""
    fields = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt", **header}
    head = segment({k: v for k, v in fields.items() if v is not None})
    body = segment(claims)
    signature = key.private_key.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64(signature)}"


def hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def flip_signature_bit(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(unb64(sig))
    raw[0] ^= 0x01  # a real bit of the signature (the last base64 char has padding bits)
    return f"{head}.{body}.{b64(bytes(raw))}"


def swap_payload(token: str, **changes: Any) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(unb64(body))
    claims.update(changes)
    return f"{head}.{segment(claims)}.{sig}"


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def issuer(ring: KeyRing) -> TokenMinter:
    return TokenMinter(ring)


REVOKED_BELOW = 2  # the revocation hook refuses tokens with ver < 2 for REVOKED_SUBJECT
REVOKED_SUBJECT = "5d0c1f0e-2a7b-4d36-8e57-111111111111"


def revoked(caller: Caller) -> bool:
    return caller.subject == REVOKED_SUBJECT and caller.token_version < REVOKED_BELOW


@pytest.fixture
def verifier(ring: KeyRing) -> TokenVerifier:
    return TokenVerifier(StaticKeySource(ring), revocation=revoked)


router = APIRouter()


@router.get("/me")
def me(caller: CurrentCaller) -> dict[str, Any]:
    return {
        "subject": caller.subject,
        "roles": sorted(caller.roles),
        "ver": caller.token_version,
    }


@router.get("/maybe")
def maybe(caller: OptionalCaller) -> dict[str, Any]:
    return {"subject": caller.subject if caller else None}


@router.get("/review-queue")
def review_queue(caller: Caller = Depends(require_roles("reviewer"))) -> dict[str, Any]:  # noqa: B008
    return {"subject": caller.subject}


@router.get("/staff")
def staff(
    caller: Caller = Depends(require_roles("warehouse", "admin")),  # noqa: B008
) -> dict[str, Any]:
    return {"subject": caller.subject}


@pytest.fixture
def app(verifier: TokenVerifier) -> FastAPI:
    service = create_app("authtest", title="auth test", routers=[router])
    install_auth(service, verifier)
    return service


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == TYPE_BASE + code
    assert body["detail"] and not body["detail"].isascii()  # Japanese
    return body


# --- issue and verify ------------------------------------------------------------------


def test_round_trip_carries_every_claim_and_the_kid(
    ring: KeyRing, issuer: TokenMinter, verifier: TokenVerifier
) -> None:
    now = datetime.now(UTC)
    token = issuer.issue(ACCOUNT, ["customer", "auditor"], token_version=3, now=now)

    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": ring.current.kid, "typ": "at+jwt"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == ACCOUNT
    assert claims["roles"] == ["customer", "auditor"]
    assert claims["aud"] == AUDIENCE and claims["iss"] == ISSUER
    assert claims["iat"] == claims["nbf"] == int(now.timestamp())
    assert claims["exp"] - claims["iat"] == ACCESS_TOKEN_TTL <= 900
    assert claims["ver"] == 3
    assert uuid.UUID(claims["jti"]).version == 4

    caller = verifier.verify(token)
    assert caller == Caller(
        subject=ACCOUNT,
        roles=frozenset({"customer", "auditor"}),
        token_version=3,
        token_id=claims["jti"],
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
    )
    assert caller.has_role("auditor") and not caller.has_role("admin")
    assert caller.subject_uuid == uuid.UUID(ACCOUNT)
    # every token is its own: a fresh jti each time
    assert verifier.verify(issuer.issue(ACCOUNT, ["customer"])).token_id != caller.token_id


def test_subject_uuid_of_a_non_uuid_subject_is_an_invalid_token(
    ring: KeyRing, issuer: TokenMinter, verifier: TokenVerifier
) -> None:
    caller = verifier.verify(issuer.issue("staff-7", ["reviewer"]))
    with pytest.raises(InvalidTokenError):
        _ = caller.subject_uuid


# --- the negative suite ------------------------------------------------------------------

Forge = Callable[[KeyRing, TokenMinter], str]


def _alg_none(ring: KeyRing, issuer: TokenMinter) -> str:
    head = segment({"alg": "none", "typ": "at+jwt", "kid": ring.current.kid})
    return f"{head}.{segment(good_claims(roles=['admin']))}."


def _alg_none_with_signature(ring: KeyRing, issuer: TokenMinter) -> str:
    token = issuer.issue(ACCOUNT, ["customer"])
    _, body, sig = token.split(".")
    return f"{segment({'alg': 'none', 'typ': 'at+jwt', 'kid': ring.current.kid})}.{body}.{sig}"


def _public_pem(ring: KeyRing) -> bytes:
    return ring.current.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256_public_pem(ring: KeyRing, issuer: TokenMinter) -> str:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": ring.current.kid}
    return hs256(_public_pem(ring), header, good_claims(roles=["admin"]))


def _hs256_public_raw(ring: KeyRing, issuer: TokenMinter) -> str:
    raw = ring.current.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": ring.current.kid}
    return hs256(raw, header, good_claims(roles=["admin"]))


def _hs256_public_jwk_x(ring: KeyRing, issuer: TokenMinter) -> str:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": ring.current.kid}
    return hs256(ring.current.public_jwk()["x"].encode(), header, good_claims(roles=["admin"]))


def _es256_header(ring: KeyRing, issuer: TokenMinter) -> str:
    # a valid EdDSA signature, but the header claims another algorithm
    return sign(ring.current, good_claims(), alg="ES256")


def _tampered_signature(ring: KeyRing, issuer: TokenMinter) -> str:
    return flip_signature_bit(issuer.issue(ACCOUNT, ["customer"]))


def _tampered_payload(ring: KeyRing, issuer: TokenMinter) -> str:
    return swap_payload(issuer.issue(ACCOUNT, ["customer"]), roles=["admin"])


def _tampered_header(ring: KeyRing, issuer: TokenMinter) -> str:
    token = issuer.issue(ACCOUNT, ["customer"])
    head, body, sig = token.split(".")
    header = json.loads(unb64(head))
    header["x"] = 1
    return f"{segment(header)}.{body}.{sig}"


def _expired(ring: KeyRing, issuer: TokenMinter) -> str:
    return issuer.issue(ACCOUNT, ["customer"], now=datetime.now(UTC) - timedelta(seconds=910))


def _nbf_future(ring: KeyRing, issuer: TokenMinter) -> str:
    now = int(datetime.now(UTC).timestamp())
    return sign(ring.current, good_claims(nbf=now + 120))


def _issued_in_future(ring: KeyRing, issuer: TokenMinter) -> str:
    return issuer.issue(ACCOUNT, ["customer"], now=datetime.now(UTC) + timedelta(minutes=5))


def _wrong_aud(ring: KeyRing, issuer: TokenMinter) -> str:
    return TokenMinter(ring, audience="other-system").issue(ACCOUNT, ["customer"])


def _aud_list(ring: KeyRing, issuer: TokenMinter) -> str:
    return sign(ring.current, good_claims(aud=[AUDIENCE, "other-system"]))


def _wrong_iss(ring: KeyRing, issuer: TokenMinter) -> str:
    return TokenMinter(ring, issuer="evil-identity").issue(ACCOUNT, ["customer"])


def _unknown_kid(ring: KeyRing, issuer: TokenMinter) -> str:
    return sign(ring.current, good_claims(), kid="no-such-key")


def _missing_kid(ring: KeyRing, issuer: TokenMinter) -> str:
    return sign(ring.current, good_claims(), kid=None)


def _foreign_key_same_kid(ring: KeyRing, issuer: TokenMinter) -> str:
    other = SigningKey.generate()
    return sign(other, good_claims(roles=["admin"]), kid=ring.current.kid)


def _foreign_key_own_kid(ring: KeyRing, issuer: TokenMinter) -> str:
    return TokenMinter(KeyRing.generate()).issue(ACCOUNT, ["admin"])


def _revoked(ring: KeyRing, issuer: TokenMinter) -> str:
    return issuer.issue(REVOKED_SUBJECT, ["customer"], token_version=REVOKED_BELOW - 1)


def _missing(claim: str) -> Forge:
    def forge(ring: KeyRing, issuer: TokenMinter) -> str:
        return sign(ring.current, good_claims(**{claim: None}))

    return forge


def _claims(**changes: Any) -> Forge:
    def forge(ring: KeyRing, issuer: TokenMinter) -> str:
        return sign(ring.current, good_claims(**changes))

    return forge


def _header(**changes: Any) -> Forge:
    def forge(ring: KeyRing, issuer: TokenMinter) -> str:
        return sign(ring.current, good_claims(), **changes)

    return forge


def _literal(text: str) -> Forge:
    return lambda ring, issuer: text


NEGATIVE: dict[str, Forge] = {
    "alg none": _alg_none,
    "alg none keeping a real signature": _alg_none_with_signature,
    "HS256 signed with the public key PEM": _hs256_public_pem,
    "HS256 signed with the raw public key": _hs256_public_raw,
    "HS256 signed with the JWK x": _hs256_public_jwk_x,
    "header says ES256": _es256_header,
    "tampered signature": _tampered_signature,
    "tampered payload (roles -> admin)": _tampered_payload,
    "tampered header": _tampered_header,
    "expired": _expired,
    "nbf in the future": _nbf_future,
    "iat in the future": _issued_in_future,
    "wrong aud": _wrong_aud,
    "aud list": _aud_list,
    "wrong iss": _wrong_iss,
    "unknown kid": _unknown_kid,
    "missing kid": _missing_kid,
    "non-string kid": _header(kid=7),
    "signed by another key under a known kid": _foreign_key_same_kid,
    "signed by a key not in the ring": _foreign_key_own_kid,
    "revoked (issued before a password reset)": _revoked,
    "missing sub": _missing("sub"),
    "missing exp": _missing("exp"),
    "missing iat": _missing("iat"),
    "missing aud": _missing("aud"),
    "missing iss": _missing("iss"),
    "missing roles": _missing("roles"),
    "missing jti": _missing("jti"),
    "roles is a string": _claims(roles="admin"),
    "unknown role": _claims(roles=["customer", "root"]),
    "empty roles": _claims(roles=[]),
    "non-string role": _claims(roles=[1]),
    "empty sub": _claims(sub=""),
    "numeric sub": _claims(sub=12),
    "lifetime over 15 minutes": _claims(exp=int(datetime.now(UTC).timestamp()) + 3600),
    "float exp": _claims(exp=int(datetime.now(UTC).timestamp()) + 60.5),
    "string ver": _claims(ver="9"),
    "negative ver": _claims(ver=-1),
    "wrong typ (e.g. an ID token)": _header(typ="JWT"),
    "missing typ": _header(typ=None),
    "list typ": _header(typ=["at+jwt"]),
    "crit header": _header(crit=["exp"]),
    "garbage: empty": _literal(""),
    "garbage: word": _literal("hello"),
    "garbage: dots": _literal("a.b.c"),
    "garbage: only dots": _literal(".."),
    "garbage: four parts": _literal("a.b.c.d"),
    "garbage: non-JSON header": _literal(b64(b"\xff\xfe") + ".e30.AA"),
    "garbage: JSON array header": _literal(b64(b"[1]") + ".e30.AA"),
    "garbage: deeply nested header": _literal(b64(b"[" * 5000) + ".e30.AA"),
    "garbage: non-ASCII": _literal("トークン.トークン.トークン"),
    "garbage: huge": _literal("a" * 20000 + ".b.c"),
}


@pytest.mark.parametrize("forge", NEGATIVE.values(), ids=NEGATIVE.keys())
async def test_negative_suite_is_refused_by_the_verifier_and_over_http(
    forge: Forge,
    ring: KeyRing,
    issuer: TokenMinter,
    verifier: TokenVerifier,
    client: httpx.AsyncClient,
) -> None:
    token = forge(ring, issuer)
    with pytest.raises(InvalidTokenError) as caught:
        verifier.verify(token)
    assert caught.value.status == 401 and caught.value.code == "invalid_token"

    # over HTTP (as UTF-8 bytes, so non-ASCII garbage reaches the app too)
    headers = [(b"Authorization", f"Bearer {token}".encode())]
    response = await client.get("/me", headers=headers)
    if not token:  # "Bearer " with no token is a malformed header
        assert_problem(response, 401, "unauthorized")
        return
    if len(token) > 16_384:  # over every service's header limit: refused before auth
        assert_problem(response, 431, "request_header_fields_too_large")
        return
    body = assert_problem(response, 401, "invalid_token")
    assert body["detail"] == "認証情報が無効です。再度ログインしてください。"
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "subject" not in body


async def test_the_good_token_passes_the_same_route(
    issuer: TokenMinter, client: httpx.AsyncClient
) -> None:
    # the control for the negative suite: the route works with a good token
    response = await client.get("/me", headers=bearer(issuer.issue(ACCOUNT, ["customer"])))
    assert response.status_code == 200
    assert response.json() == {"subject": ACCOUNT, "roles": ["customer"], "ver": 0}


async def test_revocation_hook_refuses_only_tokens_it_names(
    issuer: TokenMinter, verifier: TokenVerifier, client: httpx.AsyncClient
) -> None:
    old = issuer.issue(REVOKED_SUBJECT, ["customer"], token_version=REVOKED_BELOW - 1)
    new = issuer.issue(REVOKED_SUBJECT, ["customer"], token_version=REVOKED_BELOW)
    with pytest.raises(InvalidTokenError):
        verifier.verify(old)
    assert verifier.verify(new).token_version == REVOKED_BELOW
    assert (await client.get("/me", headers=bearer(old))).status_code == 401
    assert (await client.get("/me", headers=bearer(new))).json()["ver"] == REVOKED_BELOW


def test_leeway_allows_a_little_clock_skew_and_no_more(ring: KeyRing) -> None:
    issuer = TokenMinter(ring)
    verifier = TokenVerifier(StaticKeySource(ring), leeway=5)
    now = datetime.now(UTC)
    # expired 2 s ago: inside the leeway
    assert verifier.verify(issuer.issue(ACCOUNT, ["customer"], now=now - timedelta(seconds=902)))
    with pytest.raises(InvalidTokenError):
        verifier.verify(issuer.issue(ACCOUNT, ["customer"], now=now - timedelta(seconds=910)))
    # issued 2 s "in the future" by a fast identity clock: inside the leeway
    assert verifier.verify(issuer.issue(ACCOUNT, ["customer"], now=now + timedelta(seconds=2)))
    with pytest.raises(InvalidTokenError):
        verifier.verify(issuer.issue(ACCOUNT, ["customer"], now=now + timedelta(seconds=30)))


# --- the Authorization header ---------------------------------------------------------


async def test_missing_header_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "value",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Token abc", "bearer"],
)
async def test_malformed_header_is_401_unauthorized(value: str, client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers={"Authorization": value})
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_scheme_is_case_insensitive(issuer: TokenMinter, client: httpx.AsyncClient) -> None:
    token = issuer.issue(ACCOUNT, ["customer"])
    response = await client.get("/me", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


async def test_two_authorization_headers_are_refused(
    issuer: TokenMinter, client: httpx.AsyncClient
) -> None:
    token = issuer.issue(ACCOUNT, ["customer"])
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer other")]
    response = await client.get("/me", headers=headers)
    assert_problem(response, 401, "unauthorized")


async def test_optional_caller(issuer: TokenMinter, client: httpx.AsyncClient) -> None:
    assert (await client.get("/maybe")).json() == {"subject": None}
    token = issuer.issue(ACCOUNT, ["customer"])
    assert (await client.get("/maybe", headers=bearer(token))).json() == {"subject": ACCOUNT}
    # a bad token is not silently anonymous
    response = await client.get("/maybe", headers=bearer(flip_signature_bit(token)))
    assert_problem(response, 401, "invalid_token")


# --- roles ---------------------------------------------------------------------------


async def test_require_roles(issuer: TokenMinter, client: httpx.AsyncClient) -> None:
    customer = issuer.issue(ACCOUNT, ["customer"])
    reviewer = issuer.issue("staff-1", ["reviewer"])
    admin = issuer.issue("staff-2", ["admin"])
    warehouse = issuer.issue("staff-3", ["warehouse", "auditor"])

    body = assert_problem(
        await client.get("/review-queue", headers=bearer(customer)), 403, "forbidden"
    )
    assert body["detail"] == "この操作を行う権限がありません。"
    response = await client.get("/review-queue", headers=bearer(reviewer))
    assert response.status_code == 200
    assert response.json() == {"subject": "staff-1"}
    # admin is not implicitly every role: routes name it when they mean it
    assert (await client.get("/review-queue", headers=bearer(admin))).status_code == 403
    # any one of the roles is enough
    assert (await client.get("/staff", headers=bearer(admin))).status_code == 200
    assert (await client.get("/staff", headers=bearer(warehouse))).status_code == 200
    assert (await client.get("/staff", headers=bearer(reviewer))).status_code == 403
    # no token: 401 before any role check; a bad token: 401 too
    assert_problem(await client.get("/review-queue"), 401, "unauthorized")
    forged = swap_payload(customer, roles=["reviewer"])
    assert_problem(await client.get("/review-queue", headers=bearer(forged)), 401, "invalid_token")


def test_require_roles_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="unknown"):
        require_roles("superuser")
    with pytest.raises(ValueError, match="role"):
        require_roles()
    assert set(ROLES) == {"customer", "reviewer", "warehouse", "auditor", "admin"}


# --- keys and rotation -----------------------------------------------------------------


def test_public_jwk_is_an_okp_ed25519_signing_key(ring: KeyRing) -> None:
    jwk = ring.current.public_jwk()
    assert jwk.keys() == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert jwk["kid"] == ring.current.kid
    raw = ring.current.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert unb64(jwk["x"]) == raw
    # PyJWT reads it back as the same key
    assert (
        jwt.PyJWK(jwk).key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        == raw
    )
    assert "private_key" not in repr(ring.current)


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    issuer = TokenMinter(ring)
    verifier = TokenVerifier(StaticKeySource(ring))
    old_kid = ring.current.kid
    old_token = issuer.issue(ACCOUNT, ["customer"])

    new_key = ring.rotate(tmp_path)

    assert new_key.kid != old_kid
    assert ring.current == new_key
    new_token = issuer.issue(ACCOUNT, ["customer"])
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    assert jwt.get_unverified_header(old_token)["kid"] == old_kid
    assert verifier.verify(old_token).subject == ACCOUNT
    assert verifier.verify(new_token).subject == ACCOUNT
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new_key.kid, old_kid]
    assert set(ring.public_keys()) == {old_kid, new_key.kid}

    # the directory holds both; reloading keeps the order (the new key still signs)
    reloaded = KeyRing.load_or_create(tmp_path)
    assert [k.kid for k in reloaded.keys] == [old_kid, new_key.kid]
    assert reloaded.current.kid == new_key.kid
    assert TokenVerifier(StaticKeySource(reloaded)).verify(old_token).subject == ACCOUNT


def test_load_or_create_is_stable_and_private(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    first = KeyRing.load_or_create(directory)
    second = KeyRing.load_or_create(directory)
    assert [k.kid for k in first.keys] == [k.kid for k in second.keys]
    assert len(first.keys) == 1
    files = sorted(directory.glob("jwt-*.pem"))
    assert [f.name for f in files] == [f"jwt-{first.current.kid}.pem"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first.rotate(directory)
    for path in directory.glob("jwt-*.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(list(directory.glob("jwt-*.pem"))) == 2
    assert not list(directory.glob("*.tmp"))
    # a token from the first ring verifies with the second (same keys on disk)
    token = TokenMinter(first).issue(ACCOUNT, ["customer"])
    assert TokenVerifier(StaticKeySource(KeyRing.load_or_create(directory))).verify(token)


def test_rotate_without_directory_stays_in_memory(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    ring.rotate()
    assert len(ring.keys) == 2
    assert len(KeyRing.load_or_create(tmp_path).keys) == 1


def test_from_pems_reads_settings_text(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    ring.rotate()
    ring.rotate()
    # one PEM each, or all concatenated in one setting: the same ring, newest signing
    separate = KeyRing.from_pems([k.to_pem() for k in ring.keys])
    joined = KeyRing.from_pems(["".join(k.to_pem() for k in reversed(ring.keys))])
    for loaded in (separate, joined):
        assert [k.kid for k in loaded.keys] == [k.kid for k in ring.keys]
        assert loaded.current.kid == ring.current.kid
    # bare PKCS#8 PEMs (no created: line): oldest first as given, the kid is the thumbprint
    bare = [
        k.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        for k in ring.keys
    ]
    plain = KeyRing.from_pems(bare)
    assert [k.kid for k in plain.keys] == [k.kid for k in ring.keys]
    token = TokenMinter(ring).issue(ACCOUNT, ["customer"])
    assert TokenVerifier(StaticKeySource(plain)).verify(token).subject == ACCOUNT
    with pytest.raises(ValueError, match="PEM"):
        KeyRing.from_pems(["not a key"])
    with pytest.raises(ValueError, match="duplicate"):
        KeyRing.from_pems([bare[0], bare[0]])


def test_static_source_from_a_mapping(ring: KeyRing, issuer: TokenMinter) -> None:
    token = issuer.issue(ACCOUNT, ["customer"])
    assert TokenVerifier(StaticKeySource(ring.public_keys())).verify(token)
    with pytest.raises(InvalidTokenError):
        TokenVerifier(StaticKeySource({})).verify(token)


# --- JWKS over HTTP ----------------------------------------------------------------------


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` over real HTTP (uvicorn in a thread) on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class JwksEndpoint:
    """A JWKS endpoint served over real HTTP: counts its requests and can be down (503)."""

    def __init__(self, document: Callable[[], Any]) -> None:
        self.document = document
        self.fetches = 0
        self.down = False
        self.url = ""

    def app(self) -> FastAPI:
        endpoint = FastAPI()

        @endpoint.get("/.well-known/jwks.json")
        def jwks() -> Any:
            self.fetches += 1
            if self.down:
                return Response(status_code=503)
            return self.document()

        return endpoint


@pytest.fixture
def jwks_endpoint(ring: KeyRing) -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint(ring.jwks)
    with serving(endpoint.app()) as base:
        endpoint.url = base + "/.well-known/jwks.json"
        yield endpoint


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """One fake monotonic clock for the source and for PyJWKClient, whose cache expiry and
    unknown-kid cooldown read ``time.monotonic()`` in these three modules (a shim with
    nothing else: should PyJWT read another clock, these tests fail instead of waiting)."""
    fake = FakeClock()
    shim = types.SimpleNamespace(monotonic=fake)
    for module in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        monkeypatch.setattr(module, "time", shim)
    return fake


def test_jwks_source_caches_and_refetches_on_rotation(
    ring: KeyRing, jwks_endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    verifier = TokenVerifier(JwksKeySource(jwks_endpoint.url, clock=clock))
    issuer = TokenMinter(ring)

    for _ in range(5):
        verifier.verify(issuer.issue(ACCOUNT, ["customer"]))
    assert jwks_endpoint.fetches == 1  # cached

    clock.now += 31
    ring.rotate()  # identity rotates: a token with a kid the cache does not know
    assert verifier.verify(issuer.issue(ACCOUNT, ["customer"])).subject == ACCOUNT
    assert jwks_endpoint.fetches == 2

    clock.now += 299  # the set is still fresh
    verifier.verify(issuer.issue(ACCOUNT, ["customer"]))
    assert jwks_endpoint.fetches == 2
    clock.now += 2  # periodic refresh (PyJWKClient: once more than 300 s old)
    verifier.verify(issuer.issue(ACCOUNT, ["customer"]))
    assert jwks_endpoint.fetches == 3


def test_unknown_kids_refetch_at_most_once_per_30_seconds(
    ring: KeyRing, jwks_endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    verifier = TokenVerifier(JwksKeySource(jwks_endpoint.url, clock=clock))
    verifier.verify(TokenMinter(ring).issue(ACCOUNT, ["customer"]))
    clock.now += 31
    for i in range(20):
        with pytest.raises(InvalidTokenError):
            verifier.verify(sign(ring.current, good_claims(), kid=f"random-{i}"))
        clock.now += 1
    assert jwks_endpoint.fetches == 2  # the first unknown kid refetched; the next 19 s did not
    clock.now += 11
    with pytest.raises(InvalidTokenError):
        verifier.verify(sign(ring.current, good_claims(), kid="random-x"))
    assert jwks_endpoint.fetches == 3


def test_jwks_outage_keeps_known_keys_and_is_503_without_any(
    ring: KeyRing, jwks_endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    verifier = TokenVerifier(JwksKeySource(jwks_endpoint.url, clock=clock))
    token = TokenMinter(ring).issue(ACCOUNT, ["customer"])
    verifier.verify(token)
    jwks_endpoint.down = True
    clock.now += 400  # due for a refresh, which fails: the cached keys still verify
    assert verifier.verify(token).subject == ACCOUNT
    assert jwks_endpoint.fetches == 2
    clock.now += 29  # a failed fetch is not tried again for 30 s
    assert verifier.verify(token).subject == ACCOUNT
    assert jwks_endpoint.fetches == 2
    clock.now += 1
    assert verifier.verify(token).subject == ACCOUNT
    assert jwks_endpoint.fetches == 3

    cold = TokenVerifier(JwksKeySource(jwks_endpoint.url, clock=clock))
    with pytest.raises(AuthUnavailableError) as caught:
        cold.verify(token)
    assert caught.value.status == 503
    assert jwks_endpoint.fetches == 4
    with pytest.raises(AuthUnavailableError):
        cold.verify(token)  # knowing no key, it tries again after a second, not before
    assert jwks_endpoint.fetches == 4
    clock.now += 1
    jwks_endpoint.down = False
    assert cold.verify(token).subject == ACCOUNT
    assert jwks_endpoint.fetches == 5


def test_jwks_source_skips_keys_it_cannot_use(ring: KeyRing, issuer: TokenMinter) -> None:
    ed25519 = ring.current.public_jwk()
    document = {
        "keys": [
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "X25519", "kid": "x", "x": ed25519["x"]},
            {**ed25519, "kid": "enc", "use": "enc"},
            {**ed25519, "kid": "short", "x": "AAAA"},
            {**ed25519, "kid": "hs", "alg": "HS256"},
            {**ed25519, "kid": "no such kid!"},
            {"kty": "oct", "kid": "oct", "k": b64(b"secret" * 6)},
            {"kty": "EC", "crv": "P-256", "kid": "ec", **_p256_xy()},
            "junk",
            ed25519,
        ]
    }
    endpoint = JwksEndpoint(lambda: document)
    with serving(endpoint.app()) as base:
        source = JwksKeySource(base + "/.well-known/jwks.json")
        assert set(source()) == {ring.current.kid}
        assert TokenVerifier(source).verify(issuer.issue(ACCOUNT, ["customer"]))


def _p256_xy() -> dict[str, str]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {"x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}


def test_a_jwks_without_any_usable_key_is_503_not_an_empty_set(clock: FakeClock) -> None:
    endpoint = JwksEndpoint(lambda: {"keys": [{"kty": "RSA", "kid": "rsa", "n": "AQAB"}]})
    with serving(endpoint.app()) as base:
        source = JwksKeySource(base + "/.well-known/jwks.json", clock=clock)
        with pytest.raises(AuthUnavailableError):
            source()


@pytest.fixture
def identity_server(ring: KeyRing) -> Iterator[str]:
    """A tiny FastAPI identity serving the ring's JWKS over real HTTP (uvicorn, a thread)."""
    identity = FastAPI()

    @identity.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return ring.jwks()

    with serving(identity) as base:
        yield base + "/.well-known/jwks.json"


def test_jwks_fetched_over_http_from_a_fastapi_identity(
    ring: KeyRing, issuer: TokenMinter, identity_server: str
) -> None:
    # the real fetch (PyJWKClient, urllib); no 30 s wait between unknown-kid refetches in this test
    verifier = TokenVerifier(JwksKeySource(identity_server, unknown_kid_interval=0))
    old = issuer.issue(ACCOUNT, ["admin"])
    assert verifier.verify(old).roles == {"admin"}
    ring.rotate()  # the new kid is unknown to the cache: refetched once
    new = issuer.issue(ACCOUNT, ["customer"])
    assert jwt.get_unverified_header(new)["kid"] == ring.current.kid
    assert verifier.verify(new).roles == {"customer"}
    assert verifier.verify(old).roles == {"admin"}


def test_unreachable_jwks_url_is_503_not_500(ring: KeyRing, issuer: TokenMinter) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    source = JwksKeySource(f"http://127.0.0.1:{port}/jwks", timeout=2)
    with pytest.raises(AuthUnavailableError):
        TokenVerifier(source).verify(issuer.issue(ACCOUNT, ["customer"]))
