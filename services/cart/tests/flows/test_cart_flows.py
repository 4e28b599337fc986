"""The cart end to end on both stacks: lines priced from the catalog's events, the shipping
line appearing and leaving, 日割, the invoice-rule totals, two tabs (ETag / If-Match), the
review, and a checkout that publishes CheckoutRequested once and ends as the saga says."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pbx_events.cart import CheckoutRequested
from pbx_events.catalog import ProductChanged
from pbx_events.envelope import parse
from pbx_events.fulfillment import CheckoutRejected, OrderPlaced, ServiceActivated
from pbx_events.identity import ShippingAddressChanged
from pbx_events.wallet import WalletCharged

from .conftest import ADDRESS, PHONE, SHIPPING, UNIQUE, product


async def test_lines_are_priced_from_the_catalog_with_the_shipping_line_derived(shop: Any) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING, UNIQUE)
    account, _ = await s.customer()
    empty = await s.cart(account)
    assert empty.status_code == 200, empty.text
    assert empty.json()["lines"] == [] and empty.headers["ETag"] == 'W/"0"'

    added = await s.add(account, "PHONE-1", 2)
    assert added.status_code == 201, added.text
    again = await s.add(account, "PHONE-1", 1)  # the same SKU adds to its quantity
    cart = again.json()
    assert [
        (x["no"], x["sku"], x["kind_name"], x["quantity"], x["subtotal"]) for x in cart["lines"]
    ] == [
        (1, "PHONE-1", "機器", 3, 36_000),
        (2, "SHIP-DOMESTIC", "送料", 1, 1_000),
    ]
    assert cart["lines"][1]["removable"] is False
    assert cart["totals"] == {
        "subtotal": 37_000,
        "tax": 3_700,
        "total": 40_700,
        "taxes": [
            {
                "tax_category": "standard_10",
                "rate_percent": 10,
                "taxable_amount": 37_000,
                "tax": 3_700,
            }
        ],
    }
    # the customer cannot delete the shipping line on its own
    alone = await s.client.delete("/carts/me/lines/shipping", headers=s.auth(account))
    assert alone.status_code == 409 and alone.json()["code"] == "shipping_line_automatic"
    # the last device leaves: the shipping line leaves with it
    line_id = cart["lines"][0]["line_id"]
    gone = await s.client.delete(f"/carts/me/lines/{line_id}", headers=s.auth(account))
    assert gone.status_code == 200, gone.text
    assert gone.json()["lines"] == [] and gone.json()["totals"]["total"] == 0


async def test_a_price_change_in_the_catalog_is_reflected_and_an_old_version_ignored(
    shop: Any,
) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, _ = await s.customer()
    await s.add(account, "PHONE-1")
    dearer = product("PHONE-1", "one_time", 15_000, version=3)
    await s.publish(ProductChanged(product=dearer, changed=["price"], occurred_at=s.clock()))
    await s.wait_for(lambda: s.app.all_products()[str(PHONE.product_id)]["version"] == 3)
    # an older version arriving late changes nothing
    older = product("PHONE-1", "one_time", 13_000, version=2)
    await s.publish(ProductChanged(product=older, changed=["price"], occurred_at=s.clock()))
    await asyncio.sleep(0.5)
    lines = (await s.cart(account)).json()["lines"]
    assert lines[0]["unit_price"] == 15_000


async def test_monthly_items_show_their_proration_for_the_contract_month(shop: Any) -> None:
    s = shop
    await s.catalog(UNIQUE)
    account, circle = await s.customer(circle=True)
    refused = await s.add(account, "UNIQUE")  # a monthly item names its circle
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["code"] == "circle_required"
    unknown = await s.add(account, "UNIQUE", circle_id=str(uuid.uuid4()))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "circle_unknown"
    added = await s.add(account, "UNIQUE", 2, circle_id=str(circle))
    assert added.status_code == 201, added.text
    [line] = added.json()["lines"]
    # today is 2024-09-08 in Japan: ¥700 → ¥536 (the manual's example)
    assert (line["unit_price"], line["prorated_unit_price"], line["subtotal"]) == (700, 536, 1_072)
    assert line["circle_id"] == str(circle) and line["kind_name"] == "月額"


async def test_two_tabs_a_stale_if_match_is_412_and_changes_nothing(shop: Any) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, _ = await s.customer()
    first = await s.add(account, "PHONE-1")
    etag = first.headers["ETag"]
    line_id = first.json()["lines"][0]["line_id"]
    # tab A changes the quantity with the current ETag
    changed = await s.client.patch(
        f"/carts/me/lines/{line_id}",
        json={"quantity": 2},
        headers=s.auth(account, **{"If-Match": etag}),
    )
    assert changed.status_code == 200, changed.text
    # tab B still holds the old ETag
    stale = await s.client.patch(
        f"/carts/me/lines/{line_id}",
        json={"quantity": 5},
        headers=s.auth(account, **{"If-Match": etag}),
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["code"] == "cart_changed"
    assert (await s.cart(account)).json()["lines"][0]["quantity"] == 2


async def test_what_cannot_be_added(shop: Any) -> None:
    s = shop
    gone = product("OLD-1", "one_time", 5_000, purchasable=False)
    await s.catalog(PHONE, SHIPPING, gone)
    account, _ = await s.customer()
    for body, status, code in (
        ({"sku": "OLD-1", "quantity": 1}, 409, "product_not_purchasable"),
        ({"sku": "SHIP-DOMESTIC", "quantity": 1}, 422, "shipping_added_automatically"),
        ({"sku": "NOPE", "quantity": 1}, 422, "unknown_product"),
        ({"sku": "PHONE-1", "quantity": 0}, 422, "invalid_quantity"),
        ({"sku": "PHONE-1", "quantity": 11}, 422, "invalid_quantity"),
    ):
        reply = await s.client.post("/carts/me/lines", json=body, headers=s.auth(account))
        assert reply.status_code == status, (body, reply.text)
        problem = reply.json()
        assert code in {problem["code"], *(e["code"] for e in problem.get("errors", []))}, problem
    assert (await s.cart(account)).json()["lines"] == []


async def test_a_mixed_cart_is_refused_up_front_and_the_review_says_so(shop: Any) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING, UNIQUE)
    account, circle = await s.customer(balance=100_000, circle=True)
    await s.add(account, "PHONE-1")
    await s.add(account, "UNIQUE", circle_id=str(circle))
    review = await s.client.get("/carts/me/review", headers=s.auth(account))
    assert review.status_code == 200, review.text
    assert [b["code"] for b in review.json()["blockers"]] == ["mixed_billing"]
    refused = await s.client.post("/carts/me/checkout", headers=s.auth(account))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "mixed_billing"
    assert s.app.cart_of(account).pending_checkout_id is None


async def test_checkout_publishes_the_request_once_and_a_placed_order_empties_the_cart(
    shop: Any,
) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, _ = await s.customer(balance=50_000)
    await s.add(account, "PHONE-1", 2)
    review = (await s.client.get("/carts/me/review", headers=s.auth(account))).json()
    assert (review["balance"], review["balance_after"]) == (50_000, 50_000 - 27_500)
    assert review["blockers"] == [] and review["warnings"] == []
    assert review["shipping_address"]["postal_code"] == "1350064"  # the account's 送付先

    headers = s.auth(
        account, **{"Idempotency-Key": "checkout-1", "X-Correlation-ID": "corr-cart-1"}
    )
    started = await s.client.post("/carts/me/checkout", headers=headers)
    assert started.status_code == 202, started.text
    checkout_id = started.json()["checkout_id"]
    repeat = await s.client.post("/carts/me/checkout", headers=headers)
    assert repeat.json()["checkout_id"] == checkout_id  # the same answer, no second checkout

    await s.wait_for(lambda: [m for m in s.seen if m.type == "cart.CheckoutRequested.v1"])
    await asyncio.sleep(0.5)
    [message] = [m for m in s.seen if m.type == "cart.CheckoutRequested.v1"]
    assert message.correlation_id == "corr-cart-1"
    request = parse(message)
    assert isinstance(request, CheckoutRequested)
    assert str(request.checkout_id) == checkout_id
    assert [(x.sku, x.quantity, x.amount, x.product_version) for x in request.lines] == [
        ("PHONE-1", 2, 24_000, 1),
        ("SHIP-DOMESTIC", 1, 1_000, 1),
    ]
    assert (request.totals.subtotal, request.totals.tax, request.totals.total) == (
        25_000,
        2_500,
        27_500,
    )
    assert request.shipping_address is not None and request.shipping_address.city == "江東区"
    assert str(request.start_date) == "2024-09-08"

    # frozen while the saga decides
    frozen = await s.add(account, "PHONE-1")
    assert frozen.status_code == 409 and frozen.json()["code"] == "checkout_in_progress"
    status = await s.client.get(f"/checkouts/{checkout_id}", headers=s.auth(account))
    assert status.json()["status"] == "pending"

    await s.publish(
        OrderPlaced(
            order_id=uuid.UUID(checkout_id),
            checkout_id=uuid.UUID(checkout_id),
            account_id=account,
            cart_version=request.cart_version,
            subtotal=25_000,
            tax=2_500,
            total=27_500,
            placed_at=s.clock(),
        )
    )
    await s.wait_for(lambda: not s.app.cart_of(account).lines)
    placed = (await s.client.get(f"/checkouts/{checkout_id}", headers=s.auth(account))).json()
    assert (placed["status"], placed["order_id"]) == ("placed", checkout_id)
    # another customer sees no such checkout
    other, _ = await s.customer()
    assert (
        await s.client.get(f"/checkouts/{checkout_id}", headers=s.auth(other))
    ).status_code == 404


async def test_a_rejected_checkout_leaves_the_cart_exactly_as_it_was(shop: Any) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, _ = await s.customer()
    before = (await s.add(account, "PHONE-1", 3)).json()
    started = await s.client.post("/carts/me/checkout", headers=s.auth(account))
    assert started.status_code == 202, started.text
    assert [w["code"] for w in started.json()["warnings"]] == ["insufficient_funds_expected"]
    checkout_id = uuid.UUID(started.json()["checkout_id"])
    await s.publish(
        CheckoutRejected(
            checkout_id=checkout_id,
            account_id=account,
            reason="insufficient_funds",
            rejected_at=s.clock(),
        )
    )
    await s.wait_for(lambda: s.app.cart_of(account).pending_checkout_id is None)
    after = (await s.cart(account)).json()
    assert after["lines"] == before["lines"] and after["totals"] == before["totals"]
    status = (await s.client.get(f"/checkouts/{checkout_id}", headers=s.auth(account))).json()
    assert (status["status"], status["reason"]) == ("rejected", "insufficient_funds")


async def test_an_empty_cart_cannot_be_checked_out(shop: Any) -> None:
    s = shop
    account, _ = await s.customer()
    refused = await s.client.post("/carts/me/checkout", headers=s.auth(account))
    assert refused.status_code == 409 and refused.json()["code"] == "empty_cart"


async def test_duplicated_and_reordered_events_give_the_same_copies(shop: Any) -> None:
    """The same message twice is applied once (the inbox); an older fact arriving after a
    newer one changes nothing (the producer's position)."""
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, _ = await s.customer(balance=10_000)
    newer = WalletCharged(
        account_id=account,
        charge_id=uuid.uuid4(),
        method="credit_card",
        amount=5_000,
        balance_after=15_000,
        charged_at=s.clock(),
    )
    older = WalletCharged(
        account_id=account,
        charge_id=uuid.uuid4(),
        method="credit_card",
        amount=2_000,
        balance_after=12_000,
        charged_at=s.clock(),
    )
    message = await s.publish(newer, position=1_000)
    await s.infra.bus.publish([message])  # redelivered: the same message again
    await s.publish(older, position=999)  # an older movement, late
    moved = ShippingAddressChanged(
        account_id=account,
        same_as_contractor=False,
        address=ADDRESS.model_copy(update={"city": "大阪市北区", "postal_code": "5300001"}),
        changed_at=s.clock(),
    )
    stale = ShippingAddressChanged(
        account_id=account,
        same_as_contractor=True,
        address=ADDRESS.model_copy(update={"city": "札幌市"}),
        changed_at=s.clock(),
    )
    await s.publish(moved, position=2_000)
    await s.publish(stale, position=1_500)

    def settled() -> bool:
        copy = s.app.account_copy(account)
        return (
            copy.positions.get("balance") == 1_000
            and copy.positions.get("shipping_address") == 2_000
        )

    await s.wait_for(settled)
    await asyncio.sleep(0.5)
    copy = s.app.account_copy(account)
    assert copy.balance == 15_000
    assert copy.shipping_address["city"] == "大阪市北区"
    review = (await s.client.get("/carts/me/review", headers=s.auth(account))).json()
    assert review["balance"] == 15_000
    assert review["shipping_address"]["city"] == "大阪市北区"


async def test_a_unique_bought_in_a_circle_is_offered_in_the_device_settings(shop: Any) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, circle = await s.customer(balance=50_000, circle=True)
    unique = uuid.uuid4()
    await s.publish(
        ServiceActivated(
            service_id=unique,
            account_id=account,
            order_id=uuid.uuid4(),
            circle_id=circle,
            kind="unique",
            product_id=UNIQUE.product_id,
            sku="UNIQUE",
            name="ユニーク（端末ID）",
            activated_at=s.clock(),
        )
    )
    await s.wait_for(lambda: s.app.account_copy(account).uniques_in(str(circle)))
    added = await s.add(account, "PHONE-1")
    assert added.json()["step"] == "device_settings"
    line_id = added.json()["lines"][0]["line_id"]
    choices = (await s.client.get("/carts/me/device-settings", headers=s.auth(account))).json()
    assert choices["circles"] == [
        {
            "circle_id": str(circle),
            "applied_on": "2024-09-01",
            "uniques": [{"unique_id": str(unique), "name": "ユニーク（端末ID）"}],
        }
    ]
    # a unique that is not in the circle is refused
    wrong = await s.client.put(
        "/carts/me/device-settings",
        json={"circle_id": str(circle), "uniques": {line_id: str(uuid.uuid4())}},
        headers=s.auth(account),
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["code"] == "unique_unknown"
    chosen = await s.client.put(
        "/carts/me/device-settings",
        json={"circle_id": str(circle), "uniques": {line_id: str(unique)}},
        headers=s.auth(account),
    )
    assert chosen.status_code == 200, chosen.text
    cart = chosen.json()
    assert cart["device_circle_id"] == str(circle)
    assert cart["lines"][0]["unique_id"] == str(unique)
    assert cart["step"] == "shipping_address"  # the device settings are done
    # checkout carries the pre-configuration per device
    started = await s.client.post("/carts/me/checkout", headers=s.auth(account))
    assert started.status_code == 202, started.text
    await s.wait_for(lambda: [m for m in s.seen if m.type == "cart.CheckoutRequested.v1"])
    request = parse([m for m in s.seen if m.type == "cart.CheckoutRequested.v1"][-1])
    assert isinstance(request, CheckoutRequested)
    device = request.lines[0]
    assert (device.circle_id, device.unique_id) == (circle, unique)


async def test_a_cancellation_item_names_a_service_of_the_account(shop: Any) -> None:
    s = shop
    cancel = product("CANCEL-UNIQUE", "cancellation", 0)
    await s.catalog(PHONE, SHIPPING, cancel)
    account, circle = await s.customer(circle=True)
    unique = uuid.uuid4()
    await s.publish(
        ServiceActivated(
            service_id=unique,
            account_id=account,
            order_id=uuid.uuid4(),
            circle_id=circle,
            kind="unique",
            product_id=UNIQUE.product_id,
            sku="UNIQUE",
            name="ユニーク（端末ID）",
            activated_at=s.clock(),
        )
    )
    await s.wait_for(lambda: s.app.account_copy(account).uniques_in(str(circle)))
    missing = await s.add(account, "CANCEL-UNIQUE")
    assert missing.status_code == 422 and missing.json()["errors"][0]["code"] == "service_required"
    stranger = await s.add(account, "CANCEL-UNIQUE", service_id=str(uuid.uuid4()))
    assert stranger.status_code == 422
    assert stranger.json()["errors"][0]["code"] == "service_unknown"
    added = await s.add(account, "CANCEL-UNIQUE", service_id=str(unique))
    assert added.status_code == 201, added.text
    [line] = added.json()["lines"]
    assert (line["kind_name"], line["service_id"], line["subtotal"]) == ("解約", str(unique), 0)
    started = await s.client.post("/carts/me/checkout", headers=s.auth(account))
    assert started.status_code == 202, started.text
    await s.wait_for(lambda: [m for m in s.seen if m.type == "cart.CheckoutRequested.v1"])
    request = parse([m for m in s.seen if m.type == "cart.CheckoutRequested.v1"][-1])
    assert isinstance(request, CheckoutRequested)
    assert request.lines[0].service_id == unique and request.shipping_address is None


async def test_the_shipping_address_step_uses_registrations_rules(shop: Any) -> None:
    s = shop
    await s.catalog(PHONE, SHIPPING)
    account, _ = await s.customer()
    added = await s.add(account, "PHONE-1")
    # pre-filled from the account's 送付先, shown as a form shows it
    shown = added.json()["shipping_address"]
    assert (shown["prefecture"], shown["phone"]) == ("東京都", "03-1234-5678")
    address = {
        "name": "山田 花子",
        "name_kana": "ﾔﾏﾀﾞ ﾊﾅｺ",
        "postal_code": "５３０－０００１",
        "prefecture": "大阪府",
        "city": "大阪市北区",
        "city_kana": "オオサカシキタク",
        "street": "梅田1-1-1",
        "street_kana": "ウメダ1-1-1",
        "phone": "06-1234-5678",
    }
    saved = await s.client.put("/carts/me/shipping-address", json=address, headers=s.auth(account))
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["warnings"] == []
    assert body["shipping_address"]["postal_code"] == "5300001"
    assert body["shipping_address"]["name_kana"] == "ヤマダ\u3000ハナコ"
    assert body["shipping_address"]["prefecture_code"] == "27"
    # broken fields: each named, with registration's codes and Japanese messages
    broken = await s.client.put(
        "/carts/me/shipping-address",
        json={**address, "postal_code": "12345", "name": ""},
        headers=s.auth(account),
    )
    assert broken.status_code == 422, broken.text
    found = {(e["field"], e["code"]) for e in broken.json()["errors"]}
    assert ("postal_code", "invalid_postal_code") in found
    assert ("name", "required") in found
    assert all(
        "配送先の" in e["message"] or "郵便番号" in e["message"] for e in broken.json()["errors"]
    )
    # devices are shipped in Japan only
    overseas = await s.client.put(
        "/carts/me/shipping-address",
        json={**address, "postal_code": "00000000", "prefecture": "海外"},
        headers=s.auth(account),
    )
    assert overseas.status_code == 422, overseas.text
    assert overseas.json()["code"] == "overseas_shipping_not_available"
    # a prefecture that does not match the code: saved, with a warning
    doubtful = await s.client.put(
        "/carts/me/shipping-address",
        json={**address, "prefecture": "京都府"},
        headers=s.auth(account),
    )
    assert doubtful.status_code == 200, doubtful.text
    assert [w["code"] for w in doubtful.json()["warnings"]] == ["postal_code_prefecture_mismatch"]
    cart = (await s.cart(account)).json()
    assert cart["shipping_address"]["prefecture"] == "京都府"
