"""The purchase across services on both stacks: the catalog publishes, the wallet holds the
money, the cart checks out, the saga (fulfillment) decides and the wallet pays — or
refuses, and the cart stays as it was. Identity's events are published here by hand."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pbx_cart.consumers import ROUTES as CART_ROUTES
from pbx_cart.main import build as build_cart
from pbx_catalog.main import build as build_catalog
from pbx_cli.up import root_app
from pbx_events.envelope import to_message
from pbx_events.identity import AccountRegistered, Address, ShippingAddressChanged
from pbx_fulfillment.consumers import ROUTES as FULFILLMENT_ROUTES
from pbx_fulfillment.main import build as build_fulfillment
from pbx_kit.host import running
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for
from pbx_kit.testing_tokens import TokenMinter
from pbx_wallet.commands import RequestTopUp
from pbx_wallet.consumers import ROUTES as WALLET_ROUTES
from pbx_wallet.main import build as build_wallet
from pbx_wallet.settings import WalletSettings

ADDRESS = Address(
    name="山田 太郎",
    name_kana="ヤマダ\u3000タロウ",
    postal_code="1350064",
    prefecture_code="13",
    city="江東区",
    city_kana="コウトウク",
    street="青海2-7-4",
    street_kana="アオミ2-7-4",
    phone_e164="+81312345678",
)
SERVICES = ("catalog", "wallet", "cart", "fulfillment")


class Shop:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtimes: dict[str, Any]) -> None:
        self.client = client
        self.infra = infra
        self.runtimes = runtimes
        self.minter = TokenMinter(infra.key_ring())
        self.positions = itertools.count(1)

    def app(self, name: str) -> Any:
        return self.runtimes[name].api.state.application

    def auth(self, account: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.minter.issue(str(account), ['customer'])}"}

    async def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await asyncio.to_thread(predicate):
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.1)

    async def customer(self, balance: int) -> uuid.UUID:
        account = uuid.uuid4()
        now = datetime.now(UTC)
        for event in (
            AccountRegistered(
                account_id=account,
                login_id="PBX" + str(account.int)[:8],
                contractor_type="individual",
                email_domain_class="business",
                screening_phone_is_fixed_line=True,
                registered_at=now,
            ),
            ShippingAddressChanged(
                account_id=account, same_as_contractor=True, address=ADDRESS, changed_at=now
            ),
        ):
            message = to_message(
                event,
                message_id=f"test-{uuid.uuid4()}",
                producer_position=next(self.positions),
                correlation_id=None,
                causation_id=None,
            )
            await self.infra.bus.publish([message])
        wallet = self.app("wallet")
        await self.wait_for(lambda: wallet.find_wallet(account) is not None)
        if balance:
            await asyncio.to_thread(
                wallet.request_top_up, RequestTopUp(account, balance, "credit_card", "tok_visa")
            )
        cart = self.app("cart")

        def known() -> bool:
            copy = cart.account_copy(account)
            return (
                copy is not None and copy.shipping_address is not None and copy.balance == balance
            )

        await self.wait_for(known)
        return account

    async def checkout(self, account: uuid.UUID) -> str:
        started = await self.client.post("/cart/carts/me/checkout", headers=self.auth(account))
        assert started.status_code == 202, started.text
        checkout_id: str = started.json()["checkout_id"]
        return checkout_id

    async def settled(self, account: uuid.UUID, checkout_id: str) -> dict[str, Any]:
        async def status() -> dict[str, Any]:
            reply = await self.client.get(
                f"/cart/checkouts/{checkout_id}", headers=self.auth(account)
            )
            data: dict[str, Any] = reply.json()
            return data

        deadline = asyncio.get_running_loop().time() + 30
        while (answer := await status())["status"] == "pending":
            assert asyncio.get_running_loop().time() < deadline, "the saga never answered"
            await asyncio.sleep(0.1)
        return answer


@pytest.fixture
async def shop(stack: Stack) -> AsyncIterator[Shop]:
    infra = infrastructure_for(stack)
    runtimes = {
        "catalog": build_catalog(infra),
        "wallet": build_wallet(infra, WalletSettings(provider="sandbox", allow_sandbox=True)),
        "cart": build_cart(infra),
        "fulfillment": build_fulfillment(infra),
    }
    try:
        async with running(infra, list(runtimes.values())):
            transport = httpx.ASGITransport(app=root_app(list(runtimes.values())))
            async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
                shop = Shop(client, infra, runtimes)
                cart, fulfillment = shop.app("cart"), shop.app("fulfillment")
                # the catalog's seed reached both copies
                await shop.wait_for(lambda: len(cart.all_products()) >= 40)

                def fulfillment_knows_them() -> bool:
                    return all(
                        uuid.UUID(product_id) in fulfillment.repository
                        for product_id in cart.all_products()
                    )

                await shop.wait_for(fulfillment_knows_them)
                yield shop
    finally:
        if stack.kind == "real":
            prefix = stack.settings.queue_prefix
            queues = [prefix + q for q in (*CART_ROUTES, *FULFILLMENT_ROUTES, *WALLET_ROUTES)]
            queues += [sessions_queue(name, prefix) for name in SERVICES]
            await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))


async def test_a_paid_checkout_places_the_order_and_empties_the_cart(shop: Shop) -> None:
    account = await shop.customer(balance=50_000)
    added = await shop.client.post(
        "/cart/carts/me/lines",
        json={"sku": "GS-GXP1625", "quantity": 2},
        headers=shop.auth(account),
    )
    assert added.status_code == 201, added.text
    total = added.json()["totals"]["total"]
    checkout_id = await shop.checkout(account)
    answer = await shop.settled(account, checkout_id)
    assert (answer["status"], answer["order_id"]) == ("placed", checkout_id)
    cart = await shop.client.get("/cart/carts/me", headers=shop.auth(account))
    assert cart.json()["lines"] == []
    order = await shop.client.get(f"/fulfillment/orders/{checkout_id}", headers=shop.auth(account))
    assert order.status_code == 200, order.text
    assert (order.json()["status"], order.json()["totals"]["total"]) == ("placed", total)
    wallet = await shop.client.get("/wallet/wallets/me", headers=shop.auth(account))
    assert wallet.json()["balance"] == 50_000 - total
    # another customer cannot see it
    other = await shop.customer(balance=0)
    hidden = await shop.client.get(f"/fulfillment/orders/{checkout_id}", headers=shop.auth(other))
    assert hidden.status_code == 404


async def test_not_enough_money_rejects_the_checkout_and_leaves_the_cart(shop: Shop) -> None:
    account = await shop.customer(balance=1_000)
    added = await shop.client.post(
        "/cart/carts/me/lines",
        json={"sku": "GS-GXP1625", "quantity": 1},
        headers=shop.auth(account),
    )
    before = added.json()["lines"]
    checkout_id = await shop.checkout(account)
    answer = await shop.settled(account, checkout_id)
    assert (answer["status"], answer["reason"]) == ("rejected", "insufficient_funds")
    after = await shop.client.get("/cart/carts/me", headers=shop.auth(account))
    assert after.json()["lines"] == before
    wallet = await shop.client.get("/wallet/wallets/me", headers=shop.auth(account))
    assert wallet.json()["balance"] == 1_000
