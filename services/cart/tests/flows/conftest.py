"""The cart on both stacks, fed by the events other services would publish (published here
by hand, with their producers' positions), and driven over HTTP as a customer."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from pbx_cart.consumers import ROUTES
from pbx_cart.main import build
from pbx_events.catalog import ProductPublished, ProductState
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, to_message
from pbx_events.identity import Address, CircleAdded, ShippingAddressChanged
from pbx_events.wallet import WalletCharged
from pbx_kit.testing import Stack, serving
from pbx_kit.testing_tokens import TokenMinter

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


class Clock:
    def __init__(self) -> None:
        # 2024-09-08 10:00 in Japan: the manual's 日割 example (¥700 → ¥536)
        self.now = datetime(2024, 9, 8, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def product(
    sku: str, billing_kind: str, unit_price: int, *, version: int = 1, purchasable: bool = True
) -> ProductState:
    return ProductState(
        product_id=uuid.uuid5(uuid.NAMESPACE_URL, f"test-product:{sku}"),
        sku=sku,
        name=f"商品 {sku}",
        category="voip_phone",
        billing_kind=billing_kind,  # type: ignore[arg-type]
        unit_price=unit_price,
        tax_category="standard_10",
        status="on_sale" if purchasable else "discontinued",
        purchasable=purchasable,
        max_quantity=10,
        warranty_months=6,
        version=version,
    )


PHONE = product("PHONE-1", "one_time", 12_000)
SHIPPING = product("SHIP-DOMESTIC", "shipping", 1_000)
UNIQUE = product("UNIQUE", "monthly", 700)


class Shop:
    def __init__(self, served: Any, clock: Clock) -> None:
        self.client: httpx.AsyncClient = served.client
        self.infra = served.infra
        self.runtime = served.runtime
        self.seen: list[Message] = served.seen
        self.clock = clock
        self.issuer = TokenMinter(self.infra.key_ring())
        self._positions = itertools.count(1)

    @property
    def app(self) -> Any:
        return self.runtime.api.state.application

    def auth(self, account_id: uuid.UUID, **headers: str) -> dict[str, str]:
        token = self.issuer.issue(str(account_id), ["customer"])
        return {"Authorization": f"Bearer {token}", **headers}

    async def publish(self, event: IntegrationEvent, position: int | None = None) -> Message:
        message = to_message(
            event,
            message_id=f"test-{uuid.uuid4()}",
            producer_position=position if position is not None else next(self._positions),
            correlation_id=None,
            causation_id=None,
        )
        await self.infra.bus.publish([message])
        return message

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)

    async def catalog(self, *products: ProductState) -> None:
        for state in products:
            await self.publish(ProductPublished(product=state, occurred_at=self.clock()))

        def copied() -> bool:
            known = self.app.all_products()
            return all(
                known.get(str(p.product_id), {}).get("version") == p.version for p in products
            )

        await self.wait_for(copied)

    async def customer(
        self, balance: int = 0, circle: bool = False
    ) -> tuple[uuid.UUID, uuid.UUID | None]:
        account = uuid.uuid4()
        await self.publish(
            ShippingAddressChanged(
                account_id=account,
                same_as_contractor=True,
                address=ADDRESS,
                changed_at=self.clock(),
            )
        )
        circle_id = uuid.uuid4() if circle else None
        if circle_id is not None:
            await self.publish(
                CircleAdded(account_id=account, circle_id=circle_id, applied_on=date(2024, 9, 1))
            )
        if balance:
            await self.publish(
                WalletCharged(
                    account_id=account,
                    charge_id=uuid.uuid4(),
                    method="credit_card",
                    amount=balance,
                    balance_after=balance,
                    charged_at=self.clock(),
                )
            )

        def known() -> bool:
            copy = self.app.account_copy(account)
            return (
                copy is not None
                and copy.shipping_address is not None
                and (not circle or bool(copy.active_circles()))
                and copy.balance == balance
            )

        await self.wait_for(known)
        return account, circle_id

    async def cart(self, account: uuid.UUID) -> httpx.Response:
        return await self.client.get("/carts/me", headers=self.auth(account))

    async def add(
        self, account: uuid.UUID, sku: str, quantity: int = 1, **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            "/carts/me/lines",
            json={"sku": sku, "quantity": quantity, **extra},
            headers=self.auth(account),
        )


@pytest.fixture
async def shop(stack: Stack) -> AsyncIterator[Shop]:
    clock = Clock()
    async with serving(
        stack, lambda infra: build(infra, clock=clock), "cart.#", tuple(ROUTES)
    ) as served:
        yield Shop(served, clock)
