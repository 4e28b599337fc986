"""fulfillment's order outcomes end to end: fulfillment.OrderPlaced.v1,
fulfillment.ShipmentDispatched.v1 and fulfillment.CheckoutRejected.v1 on the bus, one
Japanese mail to the account's address each (fulfillment holds none), exactly once per
message however often it arrives; an unknown account is dropped without blocking the
queue, and identity publishes nothing for any of them.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pbx_identity.consumers
from pbx_events.cart import CheckoutLine
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, to_message
from pbx_events.fulfillment import CheckoutRejected, OrderPlaced, ShipmentDispatched
from pbx_events.identity import Address
from pbx_identity.mails_orders import (
    CHECKOUT_REJECTED_SUBJECT,
    DISPATCH_SUBJECT,
    ORDER_CONFIRMATION_SUBJECT,
)

#: 10:00 on 8 September 2024 in Japan
PLACED_AT = datetime(2024, 9, 8, 1, 0, tzinfo=UTC)
OSAKA = Address(
    name="株式会社サンプル 大阪支店",
    name_kana="カブシキガイシャサンプル　オオサカシテン",
    postal_code="5300001",
    prefecture_code="27",
    city="大阪市北区",
    city_kana="オオサカシキタク",
    street="梅田1-1-1",
    street_kana="ウメダ1-1-1",
    phone_e164="+81661234567",
)
IDENTITY_PUBLISHES = {"identity.AccountRegistered.v1", "identity.ShippingAddressChanged.v1"}


def message_for(event: IntegrationEvent, position: int) -> Message:
    """The message fulfillment's relay would publish (``position``: its notification id)."""
    return to_message(
        event,
        message_id=str(uuid.uuid4()),
        producer_position=position,
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
    )


def line(line_no: int, sku: str, name: str, kind: str, price: int, quantity: int) -> CheckoutLine:
    return CheckoutLine(
        line_no=line_no,
        product_id=uuid.uuid4(),
        product_version=2,
        sku=sku,
        name=name,
        billing_kind=kind,  # type: ignore[arg-type]
        unit_price=price,
        quantity=quantity,
        amount=price * quantity,
        tax_category="standard_10",
    )


def order_placed(account_id: str, order_id: uuid.UUID) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        checkout_id=order_id,
        account_id=uuid.UUID(account_id),
        cart_version=4,
        subtotal=25000,
        tax=2500,
        total=27500,
        placed_at=PLACED_AT,
        lines=[
            line(1, "SPA-504G", "Cisco SPA504G", "one_time", 12000, 2),
            line(2, "SHIPPING-JP", "国内配送料", "shipping", 1000, 1),
        ],
        shipping_address=OSAKA,
    )


def orders_queue() -> str:
    # the inbox's name for identity's queue (the broker's carries a prefix)
    return pbx_identity.consumers.ORDERS


async def test_a_placed_order_is_confirmed_once_by_mail_even_when_delivered_twice(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register(s.corporate_registration())
    order_id = uuid.uuid4()
    message = message_for(order_placed(account["account_id"], order_id), position=1)
    await s.infra.bus.publish([message])
    await s.infra.bus.publish([message])  # a redelivery, or the relay publishing again

    [mail] = await s.wait_for_mail(account["email"], ORDER_CONFIRMATION_SUBJECT)
    assert mail["Subject"] == "【クラウドPBX】ご注文ありがとうございました"
    body = mail.get_content()
    assert body.startswith("株式会社サンプル 様\n"), body
    assert f"ご注文番号: {order_id}\n" in body
    assert "・Cisco SPA504G × 2: 24,000円\n・国内配送料 × 1: 1,000円\n" in body
    assert "小計（税抜）: 25,000円\n消費税: 2,500円\n合計金額（税込）: 27,500円\n" in body
    assert "プリペイド残高からお支払いいただきました" in body
    assert "〒530-0001 大阪府大阪市北区梅田1-1-1\n" in body
    assert "電話番号: 06-6123-4567\n" in body

    await s.until_tracked(orders_queue(), message)
    await s.until(s.relay_caught_up, "the relay passed the notice")
    await asyncio.sleep(0.5)
    assert len(s.mails(subject=ORDER_CONFIRMATION_SUBJECT)) == 1
    assert s.changes(account["account_id"], "order_confirmation_notice_requested") == 1
    assert {m.routing_key for m in s.seen} == IDENTITY_PUBLISHES
    assert await s.infra.bus.dead_letters(orders_queue()) == []


async def test_a_dispatch_mails_the_carrier_and_the_tracking_number_once(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    order_id = uuid.uuid4()
    event = ShipmentDispatched(
        shipment_id=uuid.uuid4(),
        order_id=order_id,
        account_id=uuid.UUID(account["account_id"]),
        carrier="sagawa",
        tracking_number="4321-8765-2109",
        dispatched_at=datetime(2024, 9, 9, 7, 0, tzinfo=UTC),
    )
    message = message_for(event, position=5)
    await s.infra.bus.publish([message])
    await s.infra.bus.publish([message])

    [mail] = await s.wait_for_mail(account["email"], DISPATCH_SUBJECT)
    assert mail["Subject"] == "【クラウドPBX】ご注文の商品を発送しました"
    body = mail.get_content()
    assert body.startswith("山田 太郎 様\n"), body
    assert f"ご注文番号: {order_id}\n" in body
    assert "配送業者: 佐川急便\n" in body
    assert "お問い合わせ番号: 4321-8765-2109\n" in body
    assert "sagawa" not in body

    await s.until_tracked(orders_queue(), message)
    await asyncio.sleep(0.5)
    assert len(s.mails(subject=DISPATCH_SUBJECT)) == 1
    assert s.changes(account["account_id"], "dispatch_notice_requested") == 1


async def test_a_refused_checkout_mails_the_reason_and_what_to_do_in_japanese(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    checkout_id = uuid.uuid4()
    event = CheckoutRejected(
        checkout_id=checkout_id,
        account_id=uuid.UUID(account["account_id"]),
        reason="insufficient_funds",
        rejected_at=PLACED_AT,
    )
    message = message_for(event, position=9)
    await s.infra.bus.publish([message])

    [mail] = await s.wait_for_mail(account["email"], CHECKOUT_REJECTED_SUBJECT)
    assert mail["Subject"] == "【クラウドPBX】ご注文を承れませんでした"
    body = mail.get_content()
    assert f"ご注文手続き番号: {checkout_id}\n" in body
    assert "【理由】\nプリペイド残高が不足しています。\n" in body
    assert "チャージしてから、あらためてご注文ください" in body
    assert "このご注文の代金はいただいておりません" in body
    assert "insufficient_funds" not in body
    assert s.mails(subject=ORDER_CONFIRMATION_SUBJECT) == []


async def test_order_messages_for_an_unknown_account_are_dropped_and_the_next_still_mails(
    identity_system: Any,
) -> None:
    s = identity_system
    unknown = message_for(order_placed(str(uuid.uuid4()), uuid.uuid4()), position=1)
    rejected = message_for(
        CheckoutRejected(
            checkout_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            reason="timeout",
            rejected_at=PLACED_AT,
        ),
        position=2,
    )
    await s.infra.bus.publish([unknown, rejected])
    await s.until_tracked(orders_queue(), unknown)
    await s.until_tracked(orders_queue(), rejected)

    account = await s.register()
    await s.infra.bus.publish([message_for(order_placed(account["account_id"], uuid.uuid4()), 3)])
    await s.wait_for_mail(account["email"], ORDER_CONFIRMATION_SUBJECT)
    await asyncio.sleep(0.3)
    assert len(s.mails(subject=ORDER_CONFIRMATION_SUBJECT)) == 1
    assert s.mails(subject=CHECKOUT_REJECTED_SUBJECT) == []
    assert await s.infra.bus.dead_letters(orders_queue()) == []
