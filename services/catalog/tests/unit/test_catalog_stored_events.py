"""Events stored by earlier releases still load: the product's event classes keep their
topics (``module:Class.Event``) and attribute names, and replaying the stored events
gives the state the current code gives. ``data/catalog_stored_events.json`` holds
events as the store wrote them before the aggregate declared its event classes; it
must never be regenerated from a changed aggregate."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.domain import Aggregate

from pbx_catalog.domain.product import Product
from pbx_kit.testing_stored_events import (
    assert_fixture_replays_to_todays_state,
    assert_round_trip_through_the_store,
    assert_topics_and_attributes_unchanged,
    write_fixture,
)

FIXTURE = Path(__file__).parent / "data" / "catalog_stored_events.json"


def scenario() -> list[Aggregate]:
    """A product that has recorded every kind of event the catalog domain has."""
    product = Product(
        sku="PHONE-001",
        name="IP電話機 A",
        category="voip_phone",
        billing_kind="one_time",
        unit_price=12000,
        tax_category="standard_10",
        status="on_sale",
        specs=["PoE対応"],
        warranty_months=12,
        notes=["在庫限り"],
        max_quantity=10,
        image={"url": "/images/phone-001.png", "alt": "IP電話機 A"},
    )
    product.change_price(11000)
    product.change_details({"name": "IP電話機 A2", "specs": ["PoE対応", "Wi-Fi"]})
    product.change_status("unverified")
    product.change_status("discontinued")
    return [product]


# -- the checks (pbx_kit.testing_stored_events, shared by every service) -----------


def test_the_events_keep_their_topics_and_attribute_names() -> None:
    assert_topics_and_attributes_unchanged(FIXTURE, scenario)


def test_events_stored_by_an_earlier_release_replay_to_the_same_state() -> None:
    assert_fixture_replays_to_todays_state(FIXTURE, scenario)


def test_an_aggregate_saved_in_the_store_loads_back_the_same() -> None:
    assert_round_trip_through_the_store(scenario)


if __name__ == "__main__":  # writes the fixture: only ever from the released aggregates
    write_fixture(FIXTURE, scenario)
