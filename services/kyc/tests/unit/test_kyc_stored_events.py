"""Events stored by earlier releases still load: the review's event classes keep their
topics (``module:Class.Event``) and attribute names, and replaying the stored events
gives the state the current code gives. ``data/kyc_stored_events.json`` holds events
as the store wrote them before the aggregate declared its event classes; it must
never be regenerated from a changed aggregate."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from pbx_events.store import ServiceApplication
from pbx_kyc.domain.review import KycReview

FIXTURE = Path(__file__).parent / "data" / "kyc_stored_events.json"
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000001")
DOC_1 = UUID("00000000-0000-4000-8000-0000000000d1")
DOC_2 = UUID("00000000-0000-4000-8000-0000000000d2")
DOC_3 = UUID("00000000-0000-4000-8000-0000000000d3")


def scenario() -> list[Aggregate]:
    """A review that has recorded every kind of event the kyc domain has."""
    review = KycReview(ACCOUNT_ID, "corporation", "business", False)

    def add(document_id: UUID, document_type: str) -> None:
        review.add_document(
            document_id,
            document_type,
            "front",
            date(2026, 1, 5),
            date(2030, 1, 4),
            "image/jpeg",
            1234,
            "scan.jpg",
            NOW,
        )

    add(DOC_1, "certificate_of_registry")
    review.record_scan(DOC_1, clean=True)
    add(DOC_2, "drivers_license")
    review.record_scan(DOC_2, clean=False, signature="Eicar-Test-Signature")
    review.set_public_notice("https://example.co.jp/")
    review.give_fixed_phone()
    review.submit_if_complete(True)
    review.claim("reviewer-1")
    review.reject("reviewer-1", ["documents_unclear"], {str(DOC_1): "unreadable"}, NOW)
    add(DOC_3, "certificate_of_registry")  # a new revision
    review.record_scan(DOC_3, clean=True)
    review.submit_if_complete(True)
    review.approve("reviewer-2", date(2026, 6, 30), NOW)
    review.expire(date(2026, 7, 1))
    return [review]


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
