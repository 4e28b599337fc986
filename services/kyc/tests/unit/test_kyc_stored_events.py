"""Events stored by earlier releases still load: the review's event classes keep their
topics (``module:Class.Event``) and attribute names, and replaying the stored events
gives the state the current code gives. ``data/kyc_stored_events.json`` holds events
as the store wrote them before the aggregate declared its event classes; it must
never be regenerated from a changed aggregate."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

from eventsourcing.domain import Aggregate

from pbx_kit.testing_stored_events import (
    assert_fixture_replays_to_todays_state,
    assert_round_trip_through_the_store,
    assert_topics_and_attributes_unchanged,
    write_fixture,
)
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


# -- the checks (pbx_kit.testing_stored_events, shared by every service) -----------


def test_the_events_keep_their_topics_and_attribute_names() -> None:
    assert_topics_and_attributes_unchanged(FIXTURE, scenario)


def test_events_stored_by_an_earlier_release_replay_to_the_same_state() -> None:
    assert_fixture_replays_to_todays_state(FIXTURE, scenario)


def test_an_aggregate_saved_in_the_store_loads_back_the_same() -> None:
    assert_round_trip_through_the_store(scenario)


if __name__ == "__main__":  # writes the fixture: only ever from the released aggregates
    write_fixture(FIXTURE, scenario)
