"""Events stored by earlier releases still load: the cart's event classes keep their topics
(``module:Class.Event``) and attribute names, and replaying the stored events gives the
state the current code gives. ``data/cart_stored_events.json`` was written by the first
release of the aggregate; it must never be regenerated from a changed aggregate."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from eventsourcing.domain import Aggregate

from pbx_cart.domain.cart import Cart, ProductFacts
from pbx_kit.testing_stored_events import (
    assert_fixture_replays_to_todays_state,
    assert_round_trip_through_the_store,
    assert_topics_and_attributes_unchanged,
    write_fixture,
)

FIXTURE = Path(__file__).parent / "data" / "cart_stored_events.json"
ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000001")
PHONE = ProductFacts(UUID("00000000-0000-4000-8000-0000000000a1"), "SPA-504G", "one_time", True, 10)
UNIQUE = ProductFacts(
    UUID("00000000-0000-4000-8000-0000000000a2"), "UNIQUE-STD", "monthly", True, 10
)
CIRCLE = UUID("00000000-0000-4000-8000-0000000000c1")
LINE_1 = UUID("00000000-0000-4000-8000-0000000000b1")
LINE_2 = UUID("00000000-0000-4000-8000-0000000000b2")
LINE_3 = UUID("00000000-0000-4000-8000-0000000000b3")


def scenario() -> list[Aggregate]:
    """A cart that has recorded every kind of event the cart domain has."""
    cart = Cart(ACCOUNT_ID)
    phone = cart.add(LINE_1, PHONE, 2)
    cart.add(LINE_1, PHONE, 1)  # same product: quantity
    cart.change_quantity(phone, 4, PHONE)
    cart.choose_device_settings(CIRCLE, {phone: UUID("00000000-0000-4000-8000-0000000000d1")})
    cart.save_shipping_address({"name": "山田 太郎", "postal_code": "1350064"})
    cart.choose_payment_method("prepaid")
    cart.start_checkout(UUID("00000000-0000-4000-8000-0000000000e1"), {"lines": []})
    cart.checkout_rejected("00000000-0000-4000-8000-0000000000e1", "insufficient_funds")
    unique = cart.add(LINE_2, UNIQUE, 1, CIRCLE)
    cart.remove(unique)
    cart.start_checkout(UUID("00000000-0000-4000-8000-0000000000e2"), {"lines": []})
    cart.order_placed("00000000-0000-4000-8000-0000000000e2")
    cart.add(LINE_3, PHONE, 1)
    cancel = ProductFacts(
        UUID("00000000-0000-4000-8000-0000000000a3"), "CANCEL-UNIQUE", "cancellation", True, 10
    )
    cart.add(UUID("00000000-0000-4000-8000-0000000000b4"), cancel, 1, service_id=CIRCLE)
    return [cart]


def test_the_events_keep_their_topics_and_attribute_names() -> None:
    assert_topics_and_attributes_unchanged(FIXTURE, scenario)


def test_events_stored_by_an_earlier_release_replay_to_the_same_state() -> None:
    assert_fixture_replays_to_todays_state(FIXTURE, scenario)


def test_an_aggregate_saved_in_the_store_loads_back_the_same() -> None:
    assert_round_trip_through_the_store(scenario)


if __name__ == "__main__":  # writes the fixture: only ever from the released aggregates
    write_fixture(FIXTURE, scenario)
