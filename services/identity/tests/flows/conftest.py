"""Fixtures for identity's login, account-page and notice flow tests (test_identity_auth_*,
test_identity_account_page_*, test_identity_wallet_notices, test_identity_kyc_notices,
test_identity_order_notices, test_identity_circle_services).

``identity_system`` runs the identity service built by ``pbx_identity.main.build`` on the
``stack`` (in-process bus, or real PostgreSQL + RabbitMQ), drives it over HTTP with an
ASGI transport whose peer is 127.0.0.1 (a trusted proxy, so ``X-Forwarded-For`` sets the
client address), consumes identity's integration events from the bus and reads the mails
from the maildir. Identity's own queues (wallet notices, kyc decisions, services, orders)
get names of their own per test (a shared broker must not hand one test's messages to
another test's service). With ``--import-mode=importlib`` tests cannot import helpers
from here, so the helpers are methods of the object the fixture yields.

Password hashing: argon2id with the production parameters costs ~0.3 s per hash on a
small machine, so by default the service is built with cheap argon2id parameters (the
login code paths are the same). A test that needs the production cost (timing) says
``@pytest.mark.parametrize("password_hashing", ["production"])``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import pbx_identity.application
import pbx_identity.consumers
from pbx_events.bus import Delivery
from pbx_events.envelope import Message
from pbx_events.inbox import tracking_for
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.commands import CreateStaff
from pbx_identity.mails import RESET_SUBJECT
from pbx_identity.main import build
from pbx_kit.auth import AUDIENCE, ISSUER, TOKEN_TYPE, KeyRing
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for
from pbx_kit.testing_passwords import cheap_password_hashing

#: the password of REGISTRATION_EXAMPLE
PASSWORD = "Ky7#mPz!qR"
#: a second password that passes the policy
NEW_PASSWORD = "Qw9$nLx@vT2e"

IDENTITY_EVENTS = (
    "identity.AccountRegistered.v1",
    "identity.AccountInfoChanged.v1",
    "identity.ShippingAddressChanged.v1",
    "identity.CircleAdded.v1",
    "identity.CircleCancelled.v1",
)

_TOKEN_IN_URL = re.compile(r"[?&]token=([A-Za-z0-9._~-]+)")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class Customer:
    """A registered account, logged in once."""

    account_id: str
    login_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class IdentitySystem:
    PASSWORD = PASSWORD
    NEW_PASSWORD = NEW_PASSWORD

    def __init__(self, client: httpx.AsyncClient, infra: Any, runtime: Any) -> None:
        self.client = client
        self.infra = infra
        self.runtime = runtime
        self.seen: list[Message] = []
        self.queue = ""
        self._seen_mail_ids: set[str] = set()

    # -- the running service ---------------------------------------------------------

    @property
    def app(self) -> Any:
        return self.runtime.api.state.application

    @property
    def key_ring(self) -> KeyRing:
        ring: KeyRing = self.runtime.api.state.key_ring
        return ring

    # -- bus -------------------------------------------------------------------------------

    async def consume(self) -> None:
        queue = f"test.identity.auth.{uuid.uuid4().hex[:8]}"

        async def on_message(delivery: Delivery) -> None:
            self.seen.append(delivery.message)

        await self.infra.bus.subscribe(queue, list(IDENTITY_EVENTS), on_message)
        self.queue = queue

    def events(self, routing_key: str) -> list[Message]:
        return [m for m in self.seen if m.routing_key == routing_key]

    async def wait_for(
        self, routing_key: str, count: int, timeout: float = 15.0, linger: float = 0.5
    ) -> list[Message]:
        """The messages of one type once ``count`` arrived (and a duplicate had time to)."""
        deadline = time.monotonic() + timeout
        while len(self.events(routing_key)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"saw {len(self.events(routing_key))} of {count} {routing_key} messages"
                )
            await asyncio.sleep(0.05)
        await asyncio.sleep(linger)
        return self.events(routing_key)

    # -- identity's inbox --------------------------------------------------------------------

    @staticmethod
    async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
        """Wait for ``check`` to hold (``what`` names it when it does not in time)."""
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not in time: {what}")
            await asyncio.sleep(0.05)

    async def until_tracked(self, queue: str, message: Message) -> None:
        """Wait until identity's inbox on ``queue`` (its name without the test's prefix)
        took the message: its tracking record is committed, the message acknowledged."""
        tracking = tracking_for(queue, message)

        async def check() -> bool:
            return bool(await anyio.to_thread.run_sync(self.app.is_tracked, tracking))

        await self.until(check, f"{message.type} taken from {queue}")

    async def relay_caught_up(self) -> bool:
        """Whether identity's relay has published everything recorded so far."""
        return int(await self.runtime.api.state.relay.lag()) == 0

    def changes(self, account_id: str, change: str) -> int:
        """How many times the account's history records ``change``."""
        history = self.app.account_history(uuid.UUID(account_id))
        return sum(1 for _version, what, _at in history if what == change)

    # -- mail --------------------------------------------------------------------------------

    def mails(self, to: str | None = None, subject: str | None = None) -> list[EmailMessage]:
        mailer = self.infra.mailer
        assert isinstance(mailer, MaildirMailer)
        return [
            m
            for m in mailer.messages()
            if (to is None or m["To"] == to) and (subject is None or m["Subject"] == subject)
        ]

    async def wait_for_mail(
        self, to: str, subject: str, count: int = 1, timeout: float = 15.0
    ) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.mails(to, subject)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.mails(to, subject))} of {count} mails {subject!r} to {to}"
                )
            await asyncio.sleep(0.05)
        return self.mails(to, subject)

    @staticmethod
    def reset_token_in(mail: EmailMessage) -> str:
        body = mail.get_content()
        found = _TOKEN_IN_URL.findall(body)
        assert len(found) == 1, body
        return str(found[0])

    async def reminder_token(self, login_id: str, email: str) -> str:
        """Ask for a password reminder and return the token from the mail it sends."""
        before = len(self.mails(email, RESET_SUBJECT))
        response = await self.client.post("/auth/password-reminder", json={"login_id": login_id})
        assert response.status_code == 202, response.text
        mails = await self.wait_for_mail(email, RESET_SUBJECT, before + 1)
        fresh = [m for m in mails if m["Message-ID"] not in self._seen_mail_ids]
        assert len(fresh) == 1, [m["Message-ID"] for m in mails]
        self._seen_mail_ids.add(fresh[0]["Message-ID"])
        return self.reset_token_in(fresh[0])

    async def reset_password(self, token: str, password: str) -> httpx.Response:
        return await self.client.post(
            "/auth/password-reset",
            json={"token": token, "password": password, "password_confirmation": password},
        )

    # -- accounts and logins -----------------------------------------------------------------

    @staticmethod
    def registration(email: str | None = None, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(json.dumps(REGISTRATION_EXAMPLE))
        email = email or f"user.{uuid.uuid4().hex[:10]}@example.co.jp"
        body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
        body.update(changes)
        return body

    @staticmethod
    def corporate_registration(email: str | None = None) -> dict[str, Any]:
        body = IdentitySystem.registration(email)
        body["contractor_type"] = "corporation"
        body["contractor"]["name"] = "株式会社サンプル"
        body["contractor"]["name_kana"] = "カブシキガイシャサンプル"
        body["representative"] = {"name": "代表 花子", "name_kana": "ダイヒョウ ハナコ"}
        return body

    async def register(self, body: dict[str, Any] | None = None) -> dict[str, str]:
        body = body or self.registration()
        response = await self.client.post("/accounts", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        return {
            "account_id": created["account_id"],
            "login_id": created["login_id"],
            "email": body["contractor"]["email"],
            "password": body["password"],
        }

    async def login(
        self, login_id: str, password: str, address: str = "192.0.2.10"
    ) -> httpx.Response:
        return await self.client.post(
            "/auth/token",
            json={"login_id": login_id, "password": password},
            headers={"X-Forwarded-For": address},
        )

    async def tokens(
        self, login_id: str, password: str, address: str = "192.0.2.10"
    ) -> dict[str, Any]:
        response = await self.login(login_id, password, address)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        assert tokens["token_type"] == "bearer"
        assert tokens["access_token"]
        assert tokens["refresh_token"]
        return tokens

    async def customer(self, body: dict[str, Any] | None = None) -> Customer:
        """Register an account and log it in."""
        account = await self.register(body)
        tokens = await self.tokens(account["login_id"], account["password"])
        return Customer(
            account_id=account["account_id"],
            login_id=account["login_id"],
            email=account["email"],
            password=account["password"],
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )

    async def staff_token(self, role: str = "reviewer") -> str:
        login_id = f"STAFF{uuid.uuid4().hex[:8].upper()}"
        await anyio.to_thread.run_sync(
            self.app.create_staff, CreateStaff(login_id, "審査 担当", (role,), NEW_PASSWORD)
        )
        token: str = (await self.tokens(login_id, NEW_PASSWORD))["access_token"]
        return token

    async def me(self, access_token: str) -> httpx.Response:
        return await self.client.get(
            "/accounts/me", headers={"Authorization": f"Bearer {access_token}"}
        )

    # -- hand-made access tokens ---------------------------------------------------------------

    def claims(self, subject: str, **changes: Any) -> dict[str, Any]:
        """The claims of a good access token for ``subject`` (``changes`` replace some)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "roles": ["customer"],
            "ver": 0,
        }
        claims.update(changes)
        return claims

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: Ed25519PrivateKey | None = None,
        kid: str | None = None,
    ) -> str:
        """An EdDSA JWT signed with the ring's current key (or ``key``, named ``kid``)."""
        current = self.key_ring.current
        return jwt.encode(
            claims,
            key or current.private_key,
            algorithm="EdDSA",
            headers={"kid": kid or current.kid, "typ": TOKEN_TYPE},
        )

    @staticmethod
    def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
        """``base64url(header).base64url(claims)`` (the signing input)."""
        return ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )


@pytest.fixture
def password_hashing() -> str:
    """ "fast" (cheap argon2id parameters) or "production" (parametrize to choose)."""
    return "fast"


@pytest.fixture
async def identity_system(
    stack: Stack, password_hashing: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[IdentitySystem]:
    if password_hashing == "fast":
        cheap_password_hashing(monkeypatch, pbx_identity.application)
    else:
        assert password_hashing == "production"
    # identity's own queues, per test (the stack's queue prefix): tests on a shared broker
    # must not take each other's messages
    wallet_notices = stack.settings.queue_prefix + pbx_identity.consumers.WALLET_NOTICES
    kyc_decisions = stack.settings.queue_prefix + pbx_identity.consumers.KYC_DECISIONS
    services = stack.settings.queue_prefix + pbx_identity.consumers.SERVICES
    orders = stack.settings.queue_prefix + pbx_identity.consumers.ORDERS
    infra = infrastructure_for(stack)
    runtime = build(infra)
    async with running(infra, [runtime]):
        transport = httpx.ASGITransport(app=runtime.api, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
            system = IdentitySystem(client, infra, runtime)
            await system.consume()
            yield system
    if stack.kind == "real":
        await delete_exchange(
            stack.settings.amqp_url,
            stack.settings.exchange,
            (
                system.queue,
                wallet_notices,
                kyc_decisions,
                services,
                orders,
                sessions_queue("identity", stack.settings.queue_prefix),
            ),
        )


@pytest.fixture
async def served_identity(stack: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Identity alone, served in-process: (an HTTP client, its application). For the tests
    of stateless or single-service behaviour (forms, reference data, field rules)."""
    infra = infrastructure_for(stack)
    runtime = build(infra)
    async with running(infra, [runtime]):
        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
            yield client, runtime.api.state.application
