"""The whole purchase, as a customer, a reviewer and the warehouse live it, across the six
services (one app, as in ``./pbx up``) on the in-process bus and on real PostgreSQL +
RabbitMQ, with the stand-in warehouse (``./pbx warehouse-sim``) consuming its queue:

register → a circle → screening approved → top up → a unique and devices in the cart →
the mixed checkout refused → the unique bought (activated in the circle) → the devices,
set up with that unique, bought → shipment requested → dispatched and delivered by the
warehouse → order completed; balances, mails and the circle's unique checked at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

import pbx_identity.application
from pbx_cli.services import SERVICES as BUILDS
from pbx_cli.up import root_app
from pbx_cli.warehouse_sim import WarehouseSim
from pbx_events.fulfillment import WAREHOUSE_QUEUE
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.commands import CreateStaff
from pbx_identity.mails import REGISTRATION_SUBJECT, SCREENING_APPROVED_SUBJECT
from pbx_identity.mails_orders import DISPATCH_SUBJECT, ORDER_CONFIRMATION_SUBJECT
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for
from pbx_kit.testing_passwords import cheap_password_hashing
from pbx_kyc.testing import jpeg
from pbx_wallet.main import build as build_wallet
from pbx_wallet.settings import WalletSettings

PASSWORD = "Sample#Passw0rd"
STAFF_PASSWORD = "Staff#Passw0rd!9"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Journey:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtimes: dict[str, Any]) -> None:
        self.client = client
        self.infra = infra
        self.runtimes = runtimes

    def app(self, name: str) -> Any:
        return self.runtimes[name].api.state.application

    async def eventually(self, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Until ``check()`` (awaited when a coroutine) gives something true; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.1)

    async def login(self, login_id: str, password: str) -> str:
        reply = await self.client.post(
            "/identity/auth/token", json={"login_id": login_id, "password": password}
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    async def staff(self, role: str) -> str:
        login_id = f"{role.upper()}{uuid.uuid4().hex[:6].upper()}"
        await anyio.to_thread.run_sync(
            self.app("identity").create_staff,
            CreateStaff(login_id, "社員 太郎", (role,), STAFF_PASSWORD),
        )
        return await self.login(login_id, STAFF_PASSWORD)

    async def register(self) -> tuple[str, str]:
        """A new customer: (e-mail, access token)."""
        body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
        email = f"journey.{uuid.uuid4().hex[:10]}@example.co.jp"
        body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
        body["password"] = body["password_confirmation"] = PASSWORD
        reply = await self.client.post("/identity/accounts", json=body)
        assert reply.status_code == 201, reply.text
        return email, await self.login(reply.json()["login_id"], PASSWORD)

    async def get(self, path: str, token: str) -> Any:
        reply = await self.client.get(path, headers=bearer(token))
        assert reply.status_code == 200, f"{path}: {reply.text}"
        return reply.json()

    async def post(self, path: str, token: str, body: Any = None, status: int = 200) -> Any:
        reply = await self.client.post(path, json=body, headers=bearer(token))
        assert reply.status_code == status, f"{path}: {reply.text}"
        return reply.json() if reply.content else None

    async def settled(self, checkout_id: str, token: str) -> dict[str, Any]:
        async def answered() -> dict[str, Any] | None:
            answer: dict[str, Any] = await self.get(f"/cart/checkouts/{checkout_id}", token)
            return None if answer["status"] == "pending" else answer

        answer: dict[str, Any] = await self.eventually(answered)
        return answer

    def mails_to(self, email: str) -> list[Any]:
        mailer = self.infra.mailer
        assert isinstance(mailer, MaildirMailer)
        return [m for m in mailer.messages() if m["To"] == email]


@pytest.fixture
async def journey(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Journey]:
    cheap_password_hashing(monkeypatch, pbx_identity.application)
    infra = infrastructure_for(stack)
    runtimes = {name: build(infra) for name, build in BUILDS.items() if name != "wallet"}
    runtimes["wallet"] = build_wallet(infra, WalletSettings(provider="sandbox", allow_sandbox=True))
    try:
        async with running(infra, list(runtimes.values())):
            transport = httpx.ASGITransport(app=root_app(list(runtimes.values())))
            async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
                yield Journey(client, infra, runtimes)
    finally:
        if stack.kind == "real":
            prefix = stack.settings.queue_prefix
            queues = [prefix + WAREHOUSE_QUEUE]
            for name in runtimes:
                queues.append(sessions_queue(name, prefix))
                if importlib.util.find_spec(f"pbx_{name}.consumers") is not None:
                    consumers = importlib.import_module(f"pbx_{name}.consumers")
                    queues += [prefix + queue for queue in consumers.ROUTES]
            await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))


async def test_a_customer_buys_a_unique_and_devices_and_the_warehouse_delivers_them(
    journey: Journey,
) -> None:
    j = journey
    email, customer = await j.register()
    me = await j.get("/identity/accounts/me", customer)
    account_id = me["account_id"]

    # a circle (サークル) for the unique
    circle = await j.post(
        "/identity/accounts/me/circles",
        customer,
        {"department_name": "営業部", "staff_name": "佐藤 花子"},
        status=201,
    )
    circle_id = circle["circle_id"]

    # the screening: a driver's licence, approved by a reviewer
    async def review_opened() -> bool:
        reply = await j.client.get("/kyc/reviews/me", headers=bearer(customer))
        return reply.status_code == 200

    await j.eventually(review_opened)
    today = j.app("kyc").today()
    upload = await j.client.post(
        "/kyc/documents",
        data={
            "document_type": "drivers_license",
            "side": "front",
            "issued_on": str(today - timedelta(days=400)),
            "expires_on": str(today + timedelta(days=500)),
        },
        files={"file": ("licence.jpg", jpeg(), "image/jpeg")},
        headers=bearer(customer),
    )
    assert upload.status_code == 201, upload.text
    review_id = upload.json()["review"]["review_id"]
    reviewer = await j.staff("reviewer")

    async def queued() -> bool:
        reviews = await j.get("/kyc/reviews", reviewer)
        return any(r["review_id"] == review_id for r in reviews)

    await j.eventually(queued)
    await j.post(f"/kyc/reviews/{review_id}/approve", reviewer)

    # top up ¥100,000 by card
    await j.post(
        "/wallet/wallets/me/top-ups",
        customer,
        {"amount": 100_000, "method": "credit_card", "card_token": "tok_visa"},
        status=201,
    )

    # the cart knows the circle, the screening and the balance
    async def cart_knows() -> bool:
        review = await j.get("/cart/carts/me/review", customer)
        return bool(review) and (await j.get("/wallet/wallets/me", customer))["balance"] == 100_000

    await j.eventually(cart_knows)

    async def add(body: dict[str, Any]) -> dict[str, Any]:
        async def added() -> dict[str, Any] | None:
            reply = await j.client.post("/cart/carts/me/lines", json=body, headers=bearer(customer))
            return reply.json() if reply.status_code == 201 else None

        # the cart's copy of the new circle and the screening may still be on their way
        cart: dict[str, Any] = await j.eventually(added)
        return cart

    await add({"sku": "UNIQUE", "quantity": 1, "circle_id": circle_id})
    cart = await add({"sku": "GS-GXP1625", "quantity": 2})

    # 1. the mixed checkout: refused, nothing charged
    mixed = await j.client.post("/cart/carts/me/checkout", headers=bearer(customer))
    assert mixed.status_code == 409, mixed.text
    assert mixed.json()["code"] == "mixed_billing"

    # 2. the unique alone: placed, activated in the circle
    device_lines = [line for line in cart["lines"] if line["sku"] == "GS-GXP1625"]
    for line in device_lines:
        reply = await j.client.delete(
            f"/cart/carts/me/lines/{line['line_id']}", headers=bearer(customer)
        )
        assert reply.status_code == 200, reply.text
    started = await j.post("/cart/carts/me/checkout", customer, status=202)
    unique_order = await j.settled(started["checkout_id"], customer)
    assert unique_order["status"] == "placed", unique_order
    order = await j.get(f"/fulfillment/orders/{started['checkout_id']}", customer)
    assert order["status"] == "completed"
    assert order["shipment"] is None
    [service] = order["services"]
    assert (service["kind"], service["action"], service["circle_id"]) == (
        "unique",
        "activated",
        circle_id,
    )
    unique_id = service["service_id"]
    unique_total = order["totals"]["total"]

    # 3. the devices, set up for the circle with the new unique
    cart = await add({"sku": "GS-GXP1625", "quantity": 2})
    [device] = [line for line in cart["lines"] if line["sku"] == "GS-GXP1625"]

    async def offered() -> bool:
        settings = await j.get("/cart/carts/me/device-settings", customer)
        return unique_id in json.dumps(settings)

    await j.eventually(offered)
    reply = await j.client.put(
        "/cart/carts/me/device-settings",
        json={"circle_id": circle_id, "uniques": {device["line_id"]: unique_id}},
        headers=bearer(customer),
    )
    assert reply.status_code == 200, reply.text
    started = await j.post("/cart/carts/me/checkout", customer, status=202)
    device_checkout = started["checkout_id"]
    assert (await j.settled(device_checkout, customer))["status"] == "placed"
    order = await j.get(f"/fulfillment/orders/{device_checkout}", customer)
    assert order["status"] == "placed"
    shipment = order["shipment"]
    assert shipment["status"] == "requested"
    [item] = shipment["items"]
    assert (item["sku"], item["quantity"], item["circle_id"], item["unique_id"]) == (
        "GS-GXP1625",
        2,
        circle_id,
        unique_id,
    )
    device_total = order["totals"]["total"]

    # 4. the warehouse: the stand-in consumes its queue and reports over HTTP
    warehouse = await j.staff("warehouse")

    async def token(fresh: bool) -> str:
        return warehouse

    sim = WarehouseSim(
        j.infra.bus,
        "http://pbx/fulfillment",
        token,
        dispatch_after=0.2,
        deliver_after=0.2,
        reconcile_every=0.5,
        queue_prefix=j.infra.settings.queue_prefix,
        client=j.client,
    )
    task = asyncio.create_task(sim.run())
    try:

        async def completed() -> dict[str, Any] | None:
            data: dict[str, Any] = await j.get(f"/fulfillment/orders/{device_checkout}", customer)
            return data if data["status"] == "completed" else None

        order = await j.eventually(completed)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    shipment = order["shipment"]
    assert shipment["status"] == "delivered"
    assert shipment["carrier"] and shipment["tracking_number"]
    assert [e["status"] for e in order["timeline"]] == [
        "requested",
        "awaiting_payment",
        "placed",
        "dispatched",
        "delivered",
        "completed",
    ]
    # reported once each, even though the sim also saw the message and polled
    assert sorted(r for s, r in sim.reported if s == shipment["shipment_id"]) == [
        "delivered",
        "dispatched",
    ]

    # the end: the money, the warehouse's list
    wallet = await j.get("/wallet/wallets/me", customer)
    assert wallet["balance"] == 100_000 - unique_total - device_total
    requested = await j.get("/fulfillment/shipments?status=requested", warehouse)
    assert shipment["shipment_id"] not in {s["shipment_id"] for s in requested}
    orders = await j.get("/fulfillment/orders", customer)
    assert [o["order_id"] for o in orders] == [device_checkout, started["checkout_id"]][:1] + [
        o["order_id"] for o in orders[1:]
    ]
    assert {o["status"] for o in orders} == {"completed"}

    # identity: the unique is in the circle; the mails, once each
    async def in_circle() -> bool:
        circles = await j.get("/identity/accounts/me/circles", customer)
        [mine] = [c for c in circles if c["circle_id"] == circle_id]
        return [(s["service_id"], s["kind"], s["status"]) for s in mine["services"]] == [
            (unique_id, "unique", "active")
        ]

    await j.eventually(in_circle)

    def mails() -> list[str]:
        return sorted(str(m["Subject"]) for m in j.mails_to(email))

    expected = sorted(
        [
            REGISTRATION_SUBJECT,
            SCREENING_APPROVED_SUBJECT,
            ORDER_CONFIRMATION_SUBJECT,
            ORDER_CONFIRMATION_SUBJECT,
            DISPATCH_SUBJECT,
        ]
    )
    await j.eventually(lambda: mails() == expected)
    [dispatch] = [m for m in j.mails_to(email) if m["Subject"] == DISPATCH_SUBJECT]
    assert shipment["tracking_number"] in dispatch.get_content()
    await asyncio.sleep(0.5)  # nothing more arrives (no second mail of any kind)
    assert mails() == expected
    assert account_id
