"""The Cart aggregate: lines without prices, the quantity rules, the steps' choices, and a
checkout that empties the cart when placed and leaves it as it was when rejected."""

from __future__ import annotations

import uuid

import pytest

from pbx_cart.domain.cart import (
    Cart,
    CheckoutInProgressError,
    CircleRequiredError,
    LineNotFoundError,
    NotPurchasableError,
    ProductFacts,
    QuantityError,
    ServiceRequiredError,
    ShippingLineAutomaticError,
    ShippingNotAddableError,
)

PHONE = ProductFacts(uuid.uuid4(), "SPA-504G", "one_time", purchasable=True, max_quantity=10)
ADAPTER = ProductFacts(uuid.uuid4(), "SPA-112", "one_time", purchasable=True, max_quantity=10)
UNIQUE = ProductFacts(uuid.uuid4(), "UNIQUE-STD", "monthly", purchasable=True, max_quantity=10)
SHIPPING = ProductFacts(uuid.uuid4(), "SHIPPING-JP", "shipping", purchasable=True, max_quantity=1)
GONE = ProductFacts(uuid.uuid4(), "OLD-1", "one_time", purchasable=False, max_quantity=10)
CIRCLE = uuid.uuid4()


def a_cart() -> Cart:
    return Cart(uuid.uuid4())


def names(cart: Cart) -> list[str]:
    return [type(e).__name__ for e in cart.collect_events()]


def test_one_cart_per_account() -> None:
    account = uuid.uuid4()
    assert Cart(account).id == Cart.create_id(account) == Cart(account).id


def test_adding_a_sku_already_in_the_cart_adds_to_its_quantity() -> None:
    cart = a_cart()
    first = cart.add(uuid.uuid4(), PHONE, 2)
    again = cart.add(uuid.uuid4(), PHONE, 3)
    assert first == again
    assert cart.lines[first]["quantity"] == 5
    assert "price" not in str(cart.lines[first])
    assert names(cart) == ["Opened", "LineAdded", "QuantityChanged"]


@pytest.mark.parametrize(
    ("quantity", "ok"), [(0, False), (1, True), (10, True), (11, False), (-1, False)]
)
def test_quantity_is_one_to_the_products_maximum(quantity: int, ok: bool) -> None:
    cart = a_cart()
    if ok:
        cart.add(uuid.uuid4(), PHONE, quantity)
        return
    with pytest.raises(QuantityError) as refused:
        cart.add(uuid.uuid4(), PHONE, quantity)
    assert refused.value.errors[0].field == "quantity"
    assert "1から10まで" in refused.value.errors[0].message
    assert cart.lines == {}


def test_adding_beyond_the_maximum_in_total_is_refused_and_changes_nothing() -> None:
    cart = a_cart()
    line = cart.add(uuid.uuid4(), PHONE, 8)
    with pytest.raises(QuantityError):
        cart.add(uuid.uuid4(), PHONE, 3)
    assert cart.lines[line]["quantity"] == 8


def test_what_cannot_be_added() -> None:
    cart = a_cart()
    with pytest.raises(NotPurchasableError):
        cart.add(uuid.uuid4(), GONE, 1)
    with pytest.raises(ShippingNotAddableError):
        cart.add(uuid.uuid4(), SHIPPING, 1)
    with pytest.raises(CircleRequiredError):
        cart.add(uuid.uuid4(), UNIQUE, 1)
    assert cart.lines == {}


def test_a_monthly_item_is_a_line_per_circle() -> None:
    cart = a_cart()
    other = uuid.uuid4()
    a = cart.add(uuid.uuid4(), UNIQUE, 1, CIRCLE)
    b = cart.add(uuid.uuid4(), UNIQUE, 2, other)
    assert a != b
    assert cart.add(uuid.uuid4(), UNIQUE, 1, CIRCLE) == a
    assert (cart.lines[a]["quantity"], cart.lines[a]["circle_id"]) == (2, str(CIRCLE))


def test_change_and_remove_lines() -> None:
    cart = a_cart()
    line = cart.add(uuid.uuid4(), PHONE, 1)
    cart.change_quantity(line, 4, PHONE)
    assert cart.lines[line]["quantity"] == 4
    with pytest.raises(QuantityError):
        cart.change_quantity(line, 0, PHONE)
    cart.remove(line)
    assert cart.lines == {}
    with pytest.raises(LineNotFoundError):
        cart.remove(line)


def test_device_settings_per_cart_circle_and_per_device_unique() -> None:
    cart = a_cart()
    phone = cart.add(uuid.uuid4(), PHONE, 1)
    adapter = cart.add(uuid.uuid4(), ADAPTER, 1)
    unique = uuid.uuid4()
    cart.choose_device_settings(CIRCLE, {phone: unique, adapter: None})
    assert cart.device_circle_id == str(CIRCLE)
    assert (cart.lines[phone]["unique_id"], cart.lines[adapter]["unique_id"]) == (str(unique), None)
    # 設定無し: no circle clears every device's unique
    cart.choose_device_settings(None, {phone: unique})
    assert (cart.device_circle_id, cart.lines[phone]["unique_id"]) == (None, None)
    # a monthly line is not a device
    monthly = cart.add(uuid.uuid4(), UNIQUE, 1, CIRCLE)
    with pytest.raises(LineNotFoundError):
        cart.choose_device_settings(CIRCLE, {monthly: unique})


def test_choosing_the_same_again_records_nothing() -> None:
    cart = a_cart()
    phone = cart.add(uuid.uuid4(), PHONE, 1)
    address = {"name": "山田 太郎", "postal_code": "1350064"}
    cart.save_shipping_address(address)
    cart.choose_payment_method("prepaid")
    cart.choose_device_settings(CIRCLE, {phone: None})
    cart.collect_events()
    cart.save_shipping_address(dict(address))
    cart.choose_payment_method("prepaid")
    cart.choose_device_settings(CIRCLE, {phone: None})
    assert names(cart) == []


def test_a_pending_checkout_freezes_the_cart_and_a_placed_order_empties_it() -> None:
    cart = a_cart()
    line = cart.add(uuid.uuid4(), PHONE, 2)
    checkout = uuid.uuid4()
    cart.start_checkout(checkout, {})
    for change in (
        lambda: cart.add(uuid.uuid4(), ADAPTER, 1),
        lambda: cart.change_quantity(line, 3, PHONE),
        lambda: cart.remove(line),
        lambda: cart.start_checkout(uuid.uuid4(), {}),
        lambda: cart.save_shipping_address({}),
    ):
        with pytest.raises(CheckoutInProgressError):
            change()
    assert cart.order_placed(str(checkout))
    assert cart.lines == {} and cart.pending_checkout_id is None
    assert cart.checkouts[str(checkout)] == "placed"
    # a repeated OrderPlaced changes nothing
    cart.collect_events()
    assert not cart.order_placed(str(checkout))
    assert names(cart) == []


def test_a_rejected_checkout_leaves_the_cart_as_it_was() -> None:
    cart = a_cart()
    line = cart.add(uuid.uuid4(), PHONE, 2)
    checkout = uuid.uuid4()
    cart.start_checkout(checkout, {})
    assert cart.checkout_rejected(str(checkout), "insufficient_funds")
    assert cart.lines[line]["quantity"] == 2
    assert (cart.checkouts[str(checkout)], cart.rejection_reasons[str(checkout)]) == (
        "rejected",
        "insufficient_funds",
    )
    assert not cart.checkout_rejected(str(checkout), "timeout")  # once
    assert not cart.order_placed(str(checkout))  # a late placement of a rejected checkout
    cart.add(uuid.uuid4(), PHONE, 1)  # open again


def test_the_cart_replays_from_its_events() -> None:
    cart = a_cart()
    line = cart.add(uuid.uuid4(), PHONE, 2)
    cart.choose_device_settings(CIRCLE, {line: None})
    cart.start_checkout(uuid.uuid4(), {})
    events = cart.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert copy is not None
    assert (copy.lines, copy.device_circle_id, copy.pending_checkout_id) == (
        cart.lines,
        cart.device_circle_id,
        cart.pending_checkout_id,
    )


CANCEL = ProductFacts(
    uuid.uuid4(), "CANCEL-UNIQUE", "cancellation", purchasable=True, max_quantity=10
)


def test_a_cancellation_names_the_service_it_cancels_once() -> None:
    cart = a_cart()
    with pytest.raises(ServiceRequiredError):
        cart.add(uuid.uuid4(), CANCEL, 1)
    service = uuid.uuid4()
    line = cart.add(uuid.uuid4(), CANCEL, 1, service_id=service)
    assert cart.lines[line]["service_id"] == str(service)
    with pytest.raises(QuantityError):
        cart.add(uuid.uuid4(), CANCEL, 1, service_id=service)  # the same service twice
    with pytest.raises(QuantityError):
        cart.change_quantity(line, 2, CANCEL)
    other = cart.add(uuid.uuid4(), CANCEL, 1, service_id=uuid.uuid4())
    assert other != line
    assert cart.kinds() == {"cancellation"}


def test_the_shipping_line_cannot_be_deleted_while_devices_are_in_the_cart() -> None:
    cart = a_cart()
    phone = cart.add(uuid.uuid4(), PHONE, 1)
    with pytest.raises(ShippingLineAutomaticError):
        cart.remove("shipping")
    cart.remove(phone)  # the last device: the shipping line goes with it
    with pytest.raises(LineNotFoundError):
        cart.remove("shipping")
