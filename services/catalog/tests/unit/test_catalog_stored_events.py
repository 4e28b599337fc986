"""Events stored by earlier releases still load: the product's event classes keep their
topics (``module:Class.Event``) and attribute names, and replaying the stored events
gives the state the current code gives. ``data/catalog_stored_events.json`` holds
events as the store wrote them before the aggregate declared its event classes; it
must never be regenerated from a changed aggregate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from pbx_catalog.domain.product import Product
from pbx_events.store import ServiceApplication

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


# -- the checks (the same in every service's copy of this test) ----------------------


def app() -> ServiceApplication:
    return ServiceApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored(aggregates: list[Aggregate]) -> list[dict[str, Any]]:
    mapper = app().mapper
    return [
        {
            "topic": s.topic,
            "originator_id": str(s.originator_id),
            "originator_version": s.originator_version,
            "state": json.loads(s.state),
        }
        for aggregate in aggregates
        for s in map(mapper.to_stored_event, aggregate.collect_events())
    ]


def _without_times(event: dict[str, Any]) -> dict[str, Any]:
    state = {k: v for k, v in event["state"].items() if k not in ("timestamp", "originator_id")}
    return {"topic": event["topic"], "version": event["originator_version"], "state": state}


def _state(aggregate: Any) -> dict[str, Any]:
    skip = ("_id", "_created_on", "_modified_on", "_pending_events")
    return {k: v for k, v in vars(aggregate).items() if k not in skip}


def test_the_events_keep_their_topics_and_attribute_names() -> None:
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert [_without_times(e) for e in stored(scenario())] == [_without_times(e) for e in recorded]


def test_events_stored_by_an_earlier_release_replay_to_the_same_state() -> None:
    mapper = app().mapper
    replayed: dict[str, Any] = {}
    for e in json.loads(FIXTURE.read_text(encoding="utf-8")):
        event = mapper.to_domain_event(
            StoredEvent(
                originator_id=e["originator_id"],
                originator_version=e["originator_version"],
                topic=e["topic"],
                state=json.dumps(e["state"]).encode(),
            )
        )
        replayed[e["originator_id"]] = event.mutate(replayed.get(e["originator_id"]))
    assert [_state(a) for a in replayed.values()] == [_state(a) for a in scenario()]


def test_an_aggregate_saved_in_the_store_loads_back_the_same() -> None:
    application = app()
    aggregates = scenario()
    states = [_state(a) for a in aggregates]
    application.save(*aggregates)
    loaded = [application.repository.get(a.id) for a in aggregates]
    assert [_state(a) for a in loaded] == states
    assert [type(a) for a in loaded] == [type(a) for a in aggregates]


if __name__ == "__main__":  # writes the fixture: only ever from the released aggregates
    FIXTURE.write_text(
        json.dumps(stored(scenario()), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
