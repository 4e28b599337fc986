"""Test support: events stored by earlier releases must still load.

A service's test keeps a fixture of events as the store wrote them (written once, from
the released aggregates, by ``write_fixture``) and a ``scenario()`` that makes the same
aggregates with today's code. These checks then prove the event classes kept their
topics and attribute names, that the stored events replay to today's state, and that
the aggregates round-trip through the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from pbx_events.store import ServiceApplication

Scenario = Callable[[], Sequence[Aggregate]]


def _app() -> ServiceApplication:
    return ServiceApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored(aggregates: Sequence[Aggregate]) -> list[dict[str, Any]]:
    """The aggregates' pending events as the store writes them (unencrypted)."""
    mapper = _app().mapper
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


def _recorded(fixture: Path) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = json.loads(fixture.read_text(encoding="utf-8"))
    return recorded


def assert_topics_and_attributes_unchanged(fixture: Path, scenario: Scenario) -> None:
    """Today's code records the same event topics and attribute names as the fixture."""
    today = [_without_times(e) for e in stored(scenario())]
    assert today == [_without_times(e) for e in _recorded(fixture)]


def assert_fixture_replays_to_todays_state(fixture: Path, scenario: Scenario) -> None:
    """The fixture's events, replayed by today's code, give the state today's code makes."""
    mapper = _app().mapper
    replayed: dict[str, Any] = {}
    for e in _recorded(fixture):
        event: Any = mapper.to_domain_event(
            StoredEvent(
                originator_id=e["originator_id"],
                originator_version=e["originator_version"],
                topic=e["topic"],
                state=json.dumps(e["state"]).encode(),
            )
        )
        replayed[e["originator_id"]] = event.mutate(replayed.get(e["originator_id"]))
    assert [_state(a) for a in replayed.values()] == [_state(a) for a in scenario()]


def assert_round_trip_through_the_store(scenario: Scenario) -> None:
    """The scenario's aggregates, saved and loaded back, are the same."""
    application = _app()
    aggregates = scenario()
    states = [_state(a) for a in aggregates]
    application.save(*aggregates)
    loaded: list[Any] = [application.repository.get(a.id) for a in aggregates]
    assert [_state(a) for a in loaded] == states
    assert [type(a) for a in loaded] == [type(a) for a in aggregates]


def write_fixture(fixture: Path, scenario: Scenario) -> None:
    """Write the fixture: only ever from the released aggregates, never a changed one."""
    fixture.write_text(
        json.dumps(stored(scenario()), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
