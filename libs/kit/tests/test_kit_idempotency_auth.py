"""Idempotency keys belong to the verified caller, not to one token string."""

from __future__ import annotations

import itertools

import httpx
from fastapi import APIRouter

from pbx_kit.app import create_app
from pbx_kit.auth import (
    CurrentCaller,
    KeyRing,
    StaticKeySource,
    TokenVerifier,
    install_auth,
)
from pbx_kit.testing_tokens import TokenMinter

counter = itertools.count(1)
router = APIRouter()


@router.post("/orders", status_code=201)
def place(caller: CurrentCaller) -> dict[str, object]:
    return {"run": next(counter), "by": caller.subject}


def app_and_issuer() -> tuple[object, TokenMinter]:
    ring = KeyRing.generate()
    app = create_app("testsvc", title="t", routers=[router])
    install_auth(app, TokenVerifier(StaticKeySource(ring)))
    return app, TokenMinter(ring)


async def test_a_new_token_of_the_same_caller_replays_the_first_response() -> None:
    app, issuer = app_and_issuer()
    subject = "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21"
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        key = {"Idempotency-Key": "order-1"}
        first = await client.post(
            "/orders",
            json={},
            headers={**key, "Authorization": f"Bearer {issuer.issue(subject, ['customer'])}"},
        )
        # after a token refresh: another token string, the same caller
        again = await client.post(
            "/orders",
            json={},
            headers={**key, "Authorization": f"Bearer {issuer.issue(subject, ['customer'])}"},
        )
        stranger = issuer.issue("1b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21", ["customer"])
        other = await client.post(
            "/orders", json={}, headers={**key, "Authorization": f"Bearer {stranger}"}
        )
    assert first.status_code == again.status_code == other.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.json()["run"] != first.json()["run"]  # another caller's key is its own
