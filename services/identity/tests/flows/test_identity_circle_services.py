"""Services in circles end to end: fulfillment.ServiceActivated.v1 and
fulfillment.ServiceCancelled.v1 on the bus, and the account page's circles show the
service in use and then cancelled (a phone number also in national form), each change
recorded once however often its message arrives; a service for a circle or an account
identity does not know is logged and acknowledged without blocking the queue.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import pbx_identity.consumers
from pbx_events.envelope import Message, to_message
from pbx_events.fulfillment import ServiceActivated, ServiceCancelled

#: 00:30 on 9 September 2024 in Japan
ACTIVATED_AT = datetime(2024, 9, 8, 15, 30, tzinfo=UTC)
CANCELLED_AT = datetime(2024, 10, 1, 0, 0, tzinfo=UTC)


#: fulfillment's notification ids: the inbox tracks each position once
POSITIONS = itertools.count(1)


def message_for(event: Any) -> Message:
    """The message fulfillment's relay would publish, at its next position."""
    return to_message(
        event,
        message_id=str(uuid.uuid4()),
        producer_position=next(POSITIONS),
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
    )


def activated(account_id: str, circle_id: str, service_id: uuid.UUID, **more: Any) -> Message:
    values: dict[str, Any] = {
        "service_id": service_id,
        "account_id": uuid.UUID(account_id),
        "order_id": uuid.uuid4(),
        "circle_id": uuid.UUID(circle_id),
        "kind": "phone_number",
        "product_id": uuid.uuid4(),
        "sku": "NUMBER-03",
        "name": "03番号",
        "phone_number": "+81312345678",
        "activated_at": ACTIVATED_AT,
        **more,
    }
    return message_for(ServiceActivated(**values))


def cancelled(account_id: str, circle_id: str, service_id: uuid.UUID) -> Message:
    event = ServiceCancelled(
        service_id=service_id,
        account_id=uuid.UUID(account_id),
        order_id=uuid.uuid4(),
        circle_id=uuid.UUID(circle_id),
        kind="phone_number",
        cancelled_at=CANCELLED_AT,
    )
    return message_for(event)


def services_queue() -> str:
    return pbx_identity.consumers.SERVICES


async def circles(s: Any, customer: Any) -> list[dict[str, Any]]:
    response = await s.client.get("/accounts/me/circles", headers=customer.headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def a_circle(s: Any, customer: Any) -> str:
    response = await s.client.post(
        "/accounts/me/circles",
        json={"department_name": "営業部", "staff_name": "佐藤 花子"},
        headers=customer.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["services"] == []
    circle_id: str = response.json()["circle_id"]
    return circle_id


async def test_the_circle_shows_an_activated_service_and_then_its_cancellation(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    circle_id = await a_circle(s, customer)
    service_id = uuid.uuid4()

    activation = activated(customer.account_id, circle_id, service_id)
    await s.infra.bus.publish([activation])
    await s.infra.bus.publish([activation])  # delivered twice

    async def shown() -> bool:
        return bool((await circles(s, customer))[0]["services"])

    await s.until(shown, "the service listed in its circle")
    [circle] = await circles(s, customer)
    assert circle["services"] == [
        {
            "service_id": str(service_id),
            "kind": "phone_number",
            "sku": "NUMBER-03",
            "name": "03番号",
            "phone_number": "+81312345678",
            "phone_number_national": "03-1234-5678",
            "status": "active",
            "activated_on": "2024-09-09",
            "cancelled_on": None,
        }
    ]
    assert circle["uniques"] == []  # a phone number is no unique

    cancellation = cancelled(customer.account_id, circle_id, service_id)
    await s.infra.bus.publish([cancellation])
    await s.infra.bus.publish([cancellation])

    async def ended() -> bool:
        return bool((await circles(s, customer))[0]["services"][0]["status"] == "cancelled")

    await s.until(ended, "the service shown cancelled")
    await s.until_tracked(services_queue(), cancellation)
    await asyncio.sleep(0.5)
    [circle] = await circles(s, customer)
    [service] = circle["services"]
    assert (service["status"], service["cancelled_on"]) == ("cancelled", "2024-10-01")
    assert s.changes(customer.account_id, "circle_service_activated") == 1
    assert s.changes(customer.account_id, "circle_service_cancelled") == 1
    assert await s.infra.bus.dead_letters(services_queue()) == []


async def test_an_activated_unique_is_one_of_the_circles_uniques_in_use(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    circle_id = await a_circle(s, customer)
    unique_id = uuid.uuid4()
    await s.infra.bus.publish(
        [
            activated(
                customer.account_id,
                circle_id,
                unique_id,
                kind="unique",
                sku="UNIQUE-STD",
                name="ユニーク（スタンダード）",
                phone_number=None,
            )
        ]
    )

    async def shown() -> bool:
        return bool((await circles(s, customer))[0]["uniques"])

    await s.until(shown, "the unique listed in its circle")
    [circle] = await circles(s, customer)
    assert [u["service_id"] for u in circle["uniques"]] == [str(unique_id)]
    assert circle["services"][0]["phone_number_national"] is None


async def test_a_service_for_an_unknown_circle_or_account_is_acknowledged_and_changes_nothing(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    circle_id = await a_circle(s, customer)
    strangers = [
        activated(customer.account_id, str(uuid.uuid4()), uuid.uuid4()),  # not its circle
        activated(str(uuid.uuid4()), circle_id, uuid.uuid4()),  # no such account
        cancelled(customer.account_id, circle_id, uuid.uuid4()),  # no such service
    ]
    await s.infra.bus.publish(strangers)
    for message in strangers:
        await s.until_tracked(services_queue(), message)

    known = activated(customer.account_id, circle_id, uuid.uuid4())
    await s.infra.bus.publish([known])
    await s.until_tracked(services_queue(), known)
    [circle] = await circles(s, customer)
    assert len(circle["services"]) == 1
    assert await s.infra.bus.dead_letters(services_queue()) == []
