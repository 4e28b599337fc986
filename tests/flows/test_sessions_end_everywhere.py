"""A password reset or "log out everywhere" ends the account's sessions in every service,
not only at identity: identity publishes ``identity.SessionsEnded.v1`` and each service
refuses the older access tokens (SPEC §2.4: a reset ends existing sessions).

The four services run together as in ``./pbx up`` (one app, mounted under /<service>),
on the in-process bus and on real PostgreSQL + RabbitMQ.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

import pbx_identity.application
from pbx_cli.up import root_app
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.commands import CreateStaff
from pbx_identity.consumers import ROUTES as IDENTITY_ROUTES
from pbx_identity.mails import RESET_SUBJECT
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for
from pbx_kit.testing_passwords import cheap_password_hashing
from pbx_wallet.settings import WalletSettings

SERVICES = ("identity", "kyc", "catalog", "wallet")
PASSWORD = "Sample#Passw0rd"
NEW_PASSWORD = "N3w#Passw0rd!x"
_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-.]+)")


class World:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtimes: dict[str, Any]) -> None:
        self.client = client
        self.infra = infra
        self.runtimes = runtimes

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def login(self, login_id: str, password: str) -> str:
        reply = await self.client.post(
            "/identity/auth/token", json={"login_id": login_id, "password": password}
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    async def customer(self) -> tuple[str, str, str]:
        """A new customer: (login id, e-mail, access token)."""
        body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
        email = f"sessions.{uuid.uuid4().hex[:10]}@example.co.jp"
        body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
        body["password"] = body["password_confirmation"] = PASSWORD
        reply = await self.client.post("/identity/accounts", json=body)
        assert reply.status_code == 201, reply.text
        login_id = reply.json()["login_id"]
        return login_id, email, await self.login(login_id, PASSWORD)

    async def admin(self) -> tuple[str, str]:
        """A new admin: (login id, access token)."""
        login_id = f"ADMIN{uuid.uuid4().hex[:8].upper()}"
        identity = self.runtimes["identity"].api.state.application
        await anyio.to_thread.run_sync(
            identity.create_staff, CreateStaff(login_id, "管理 太郎", ("admin",), NEW_PASSWORD)
        )
        return login_id, await self.login(login_id, NEW_PASSWORD)

    async def reset_link_token(self, login_id: str, email: str) -> str:
        reply = await self.client.post(
            "/identity/auth/password-reminder", json={"login_id": login_id}
        )
        assert reply.status_code == 202, reply.text
        mailer = self.infra.mailer
        assert isinstance(mailer, MaildirMailer)

        def found() -> list[str]:
            return [
                _TOKEN.findall(m.get_content())[0]
                for m in mailer.messages()
                if m["To"] == email and m["Subject"] == RESET_SUBJECT
            ]

        await eventually(lambda: bool(found()))
        return found()[0]

    # what each service answers a token with (a read and, where there is one, a command)

    def calls(self) -> dict[str, Callable[[str], Awaitable[httpx.Response]]]:
        return {
            "identity": lambda t: self.client.get("/identity/accounts/me", headers=self.bearer(t)),
            "kyc": lambda t: self.client.get("/kyc/reviews/me", headers=self.bearer(t)),
            "wallet": lambda t: self.client.get("/wallet/wallets/me", headers=self.bearer(t)),
        }

    async def top_up(self, token: str) -> httpx.Response:
        """A command at the wallet (the attack the issue names: money moved on an old token)."""
        return await self.client.post(
            "/wallet/wallets/me/top-ups",
            json={"amount": 1000, "method": "convenience_store"},
            headers=self.bearer(token),
        )

    async def admin_call(self, token: str) -> httpx.Response:
        """An admin-only command at the catalog (a change of a product that does not exist:
        404 when the token is accepted, 401 when it is not)."""
        return await self.client.patch(
            "/catalog/products/NO-SUCH-SKU",
            json={"version": 999_999, "unit_price": 12345},
            headers=self.bearer(token),
        )


async def eventually(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def refused_everywhere(
    calls: dict[str, Callable[[str], Awaitable[httpx.Response]]], token: str
) -> dict[str, int]:
    """Each service's answer to the token, once every one refuses it (or the deadline)."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        statuses = {name: (await call(token)).status_code for name, call in calls.items()}
        if set(statuses.values()) == {401} or asyncio.get_running_loop().time() > deadline:
            return statuses
        await asyncio.sleep(0.1)


@pytest.fixture
async def world(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    cheap_password_hashing(monkeypatch, pbx_identity.application)
    from pbx_cli.services import SERVICES as BUILDS
    from pbx_wallet.main import build as build_wallet

    infra = infrastructure_for(stack)
    runtimes = {name: BUILDS[name](infra) for name in SERVICES if name != "wallet"}
    runtimes["wallet"] = build_wallet(infra, WalletSettings(provider="sandbox", allow_sandbox=True))
    async with running(infra, list(runtimes.values())):
        transport = httpx.ASGITransport(app=root_app(list(runtimes.values())))
        async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
            yield World(client, infra, runtimes)
    if stack.kind == "real":
        prefix = stack.settings.queue_prefix
        queues = [sessions_queue(name, prefix) for name in SERVICES]
        queues += [prefix + q for q in IDENTITY_ROUTES]
        queues += [prefix + q for q in ("kyc.accounts", "wallet.accounts", "wallet.orders")]
        await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))


async def test_a_password_reset_ends_the_old_access_token_at_every_service(world: World) -> None:
    login_id, email, old = await world.customer()
    calls = world.calls()
    # kyc opens the account's review when identity's AccountRegistered arrives
    deadline = asyncio.get_running_loop().time() + 20
    while (await calls["kyc"](old)).status_code == 404:
        assert asyncio.get_running_loop().time() < deadline, "kyc never opened the review"
        await asyncio.sleep(0.05)
    before = {name: (await call(old)).status_code for name, call in calls.items()}
    assert before == {"identity": 200, "kyc": 200, "wallet": 200}, before
    assert (await world.top_up(old)).status_code == 201

    token = await world.reset_link_token(login_id, email)
    reply = await world.client.post(
        "/identity/auth/password-reset",
        json={"token": token, "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD},
    )
    assert reply.status_code == 204, reply.text

    after = await refused_everywhere(calls, old)
    assert after == {"identity": 401, "kyc": 401, "wallet": 401}, after
    refused = await world.top_up(old)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"

    fresh = await world.login(login_id, NEW_PASSWORD)
    again = {name: (await call(fresh)).status_code for name, call in calls.items()}
    assert again == {"identity": 200, "kyc": 200, "wallet": 200}, again
    assert (await world.top_up(fresh)).status_code == 201


async def test_logging_out_everywhere_ends_an_admin_token_at_the_catalog(world: World) -> None:
    login_id, old = await world.admin()
    assert (await world.admin_call(old)).status_code == 404  # accepted: no such product

    reply = await world.client.post(
        "/identity/auth/logout", json={"everywhere": True}, headers=world.bearer(old)
    )
    assert reply.status_code == 204, reply.text

    statuses = await refused_everywhere({"catalog": world.admin_call}, old)
    assert statuses == {"catalog": 401}

    fresh = await world.login(login_id, NEW_PASSWORD)
    assert (await world.admin_call(fresh)).status_code == 404
