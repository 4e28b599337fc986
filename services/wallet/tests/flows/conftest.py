"""The wallet end to end on both stacks: HTTP, the bus, a controllable clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, to_message
from pbx_events.fulfillment import DebitRequested, RefundRequested
from pbx_events.identity import AccountRegistered
from pbx_kit.testing import Stack, serving
from pbx_kit.testing_tokens import TokenMinter
from pbx_wallet.consumers import ACCOUNTS_QUEUE, ORDERS_QUEUE
from pbx_wallet.main import build
from pbx_wallet.payments import SandboxProvider, sign
from pbx_wallet.settings import WalletSettings

#: the sandbox, allowed on the real servers of the tests (as on a staging system)
STAGING = WalletSettings(provider="sandbox", allow_sandbox=True)


class Clock:
    """The service's clock, moved by the test (payment deadlines, signature ages)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Wallets:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtime: Any, clock: Clock) -> None:
        self.client = client
        self.infra = infra
        self.runtime = runtime
        self.clock = clock
        self.seen: list[Message] = []
        self.issuer = TokenMinter(infra.key_ring())
        self._position = 10_000

    @property
    def app(self) -> Any:
        return self.runtime.api.state.application

    @property
    def sandbox(self) -> SandboxProvider:
        provider: SandboxProvider = self.runtime.api.state.sandbox
        return provider

    @property
    def secret(self) -> bytes:
        secret: bytes = self.runtime.api.state.webhook_secrets[0]
        return secret

    def auth(self, account_id: uuid.UUID | str, role: str = "customer") -> dict[str, str]:
        token = self.issuer.issue(str(account_id), [role])
        return {"Authorization": f"Bearer {token}"}

    def staff(self, role: str = "auditor") -> dict[str, str]:
        return self.auth(uuid.uuid4(), role)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)

    def of_type(self, name: str) -> list[Message]:
        return [m for m in self.seen if m.type == f"wallet.{name}.v1"]

    # -- messages the wallet consumes ------------------------------------------

    def message(self, event: IntegrationEvent, position: int | None = None) -> Message:
        if position is None:
            self._position += 1
            position = self._position
        return to_message(
            event,
            message_id=f"test-{type(event).event_name}-{position}",
            producer_position=position,
            correlation_id=f"corr-{position}",
            causation_id=None,
        )

    def debit(self, account_id: uuid.UUID, order_id: uuid.UUID, amount: int) -> DebitRequested:
        return DebitRequested(
            account_id=account_id, order_id=order_id, amount=amount, requested_at=self.clock()
        )

    def refund(self, account_id: uuid.UUID, order_id: uuid.UUID, amount: int) -> RefundRequested:
        return RefundRequested(
            account_id=account_id,
            order_id=order_id,
            amount=amount,
            reason="order_timed_out",
            requested_at=self.clock(),
        )

    async def publish(self, *messages: Message) -> None:
        await self.infra.bus.publish(list(messages))

    async def register(self) -> uuid.UUID:
        """A new account, announced by identity; returns when its wallet is open."""
        account_id = uuid.uuid4()
        event = AccountRegistered(
            account_id=account_id,
            login_id="PBX" + str(account_id.int)[:8],
            contractor_type="individual",
            email_domain_class="business",
            screening_phone_is_fixed_line=True,
            registered_at=self.clock(),
        )
        await self.publish(self.message(event))
        await self.wait_for(lambda: self.app.find_wallet(account_id) is not None)
        return account_id

    # -- top-ups ---------------------------------------------------------------

    async def top_up(
        self, account_id: uuid.UUID, amount: int, method: str = "credit_card", **extra: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"amount": amount, "method": method, **extra}
        if method == "credit_card" and "card_token" not in extra:
            body["card_token"] = "tok_visa"
        return await self.client.post(
            "/wallets/me/top-ups", json=body, headers=self.auth(account_id)
        )

    async def funded(self, amount: int) -> uuid.UUID:
        """A registered account with ``amount`` yen charged by card."""
        account_id = await self.register()
        reply = await self.top_up(account_id, amount)
        assert reply.status_code == 201, reply.text
        return account_id

    async def notify(
        self, body: bytes, *, signature: str | None = None, at: datetime | None = None
    ) -> httpx.Response:
        timestamp = int((at or self.clock()).timestamp())
        header = signature if signature is not None else sign(self.secret, body, timestamp)
        return await self.client.post(
            "/payment-notifications",
            content=body,
            headers={"Pbx-Signature": header, "Content-Type": "application/json"},
        )

    async def sandbox_pay(self, charge_id: Any) -> httpx.Response:
        """An admin plays the customer paying a sandbox charge."""
        return await self.client.post(
            f"/sandbox/payments/{charge_id}/pay", headers=self.staff("admin")
        )

    async def balance(self, account_id: uuid.UUID) -> dict[str, Any]:
        reply = await self.client.get("/wallets/me", headers=self.auth(account_id))
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    # -- waiting for the consumers, the relay, the read model ------------------

    @staticmethod
    def handled(queue: str = ORDERS_QUEUE) -> float:
        """Messages the inbox of ``queue`` (however prefixed) applied or skipped as duplicates,
        in this process."""
        names = ("pbx_inbox_handled_total", "pbx_inbox_duplicates_total")
        return sum(
            sample.value
            for metric in REGISTRY.collect()
            for sample in metric.samples
            if sample.name in names and sample.labels.get("queue", "").endswith(queue)
        )

    async def deliver(self, *messages: Message, queue: str = ORDERS_QUEUE) -> None:
        """Publish one message at a time, each only after the inbox handled the one before
        (applied or skipped as a duplicate): the order of delivery is the order given."""
        for message in messages:
            before = self.handled(queue)
            await self.publish(message)
            await self.wait_for(lambda: self.handled(queue) > before)  # noqa: B023 - awaited here

    async def published_all(self) -> None:
        """Wait until the outbox relay has published (and the broker confirmed) every event."""
        head = await asyncio.to_thread(self.app.max_notification_id)
        deadline = asyncio.get_running_loop().time() + 15
        while await asyncio.to_thread(self.app.position, "relay:wallet") < head:
            assert asyncio.get_running_loop().time() < deadline, "relay did not catch up"
            await asyncio.sleep(0.05)

    async def statement(self, account_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every line of an account's statement (read model), newest first."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            reply = await self.client.get(
                "/wallets/me/statement",
                params={"page": page, "per_page": 100},
                headers=self.auth(account_id),
            )
            assert reply.status_code == 200, reply.text
            data = reply.json()
            items.extend(data["items"])
            if len(items) >= data["total"] or not data["items"]:
                return items
            page += 1

    async def quiesce(self) -> None:
        """Wait until the read model has every event."""
        projection = self.runtime.api.state.projection
        await self.wait_for(lambda: True)
        head = await asyncio.to_thread(self.app.max_notification_id)
        deadline = asyncio.get_running_loop().time() + 15
        while projection.load_position() < head:
            assert asyncio.get_running_loop().time() < deadline, "read model did not catch up"
            await asyncio.sleep(0.05)


@pytest.fixture
async def wallets(stack: Stack) -> AsyncIterator[Wallets]:
    clock = Clock()
    async with serving(
        stack,
        lambda infra: build(infra, STAGING, clock=clock),
        "wallet.#",
        (ACCOUNTS_QUEUE, ORDERS_QUEUE),
    ) as served:
        harness = Wallets(served.client, served.infra, served.runtime, clock)
        harness.seen = served.seen
        yield harness
