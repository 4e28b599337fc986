"""The event store when PostgreSQL goes away (real PostgreSQL, through a TCP proxy the
tests cut, never the shared server): calls give up within a few seconds, a command that
failed does not commit later, and a write whose COMMIT was not acknowledged recognises
its own rows on the retry instead of reading them as a rival's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, Tracking

from pbx_events.store import STORE_WAIT_SECONDS, ServiceApplication, ensure_schema, postgres_env
from pbx_kit.testing_faults import TcpProxy, breaking_write_connections

pytestmark = pytest.mark.infra


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def add(self, amount: int) -> None:
        self._added(amount)

    @event("Added")
    def _added(self, amount: int) -> None:
        self.count += amount


class CounterApp(ServiceApplication):
    pass


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[CounterApp]:
    ensure_schema(fresh_database_url, "counters")
    application = CounterApp(postgres_env(fresh_database_url, "counters"))
    yield application
    application.close()


@pytest.fixture
def proxy(fresh_database_url: str) -> Iterator[TcpProxy]:
    ensure_schema(fresh_database_url, "counters")
    with TcpProxy.in_front_of(fresh_database_url) as tcp:
        tcp.open()
        yield tcp


def stored_events(app: ServiceApplication) -> list[tuple[UUID, int]]:
    return [(n.originator_id, n.originator_version) for n in app.notifications_after(0, 100)]


def test_a_write_whose_commit_was_not_acknowledged_succeeds_once(app: CounterApp) -> None:
    counter = Counter("calls")
    with breaking_write_connections(app, after_commit=True) as broken:
        recordings = app.save(counter)

    assert len(broken) == 1  # the first try committed, and then its connection broke
    assert stored_events(app) == [(counter.id, 1)]
    assert [r.notification.id for r in recordings] == [app.max_notification_id()]
    assert app.repository.get(counter.id).name == "calls"


def test_a_tracked_batch_whose_commit_was_not_acknowledged_succeeds_once(
    app: CounterApp,
) -> None:
    counters = [Counter("a"), Counter("b")]
    trackings = [Tracking("upstream", 7), Tracking("upstream", 8)]
    events = [e for c in counters for e in c.collect_events()]
    with breaking_write_connections(app, after_commit=True) as broken:
        app.save_tracked_many(trackings, events)

    assert len(broken) == 1
    assert sorted(stored_events(app)) == sorted((c.id, 1) for c in counters)
    assert app.tracked_among(trackings) == set(trackings)


def test_a_change_whose_commit_was_not_acknowledged_is_decided_once(app: CounterApp) -> None:
    counter = Counter("decisions")
    app.save(counter)
    decisions: list[int] = []

    def decide(c: Counter) -> int:
        decisions.append(c.version)
        c.add(5)
        return c.count

    with breaking_write_connections(app, after_commit=True):
        result = app.change(lambda: app.repository.get(counter.id), decide)

    # no "lost race": the retry recognised its own commit, the decision ran once
    assert result == 5
    assert decisions == [1]
    assert app.repository.get(counter.id).count == 5
    assert stored_events(app) == [(counter.id, 1), (counter.id, 2)]


def test_a_rival_commit_met_by_a_retried_write_is_still_a_conflict(
    fresh_database_url: str, app: CounterApp
) -> None:
    rival = CounterApp(postgres_env(fresh_database_url, "counters"))
    try:
        counter = Counter("contested")
        app.save(counter)
        ours, theirs = app.repository.get(counter.id), rival.repository.get(counter.id)
        theirs.add(1)
        rival.save(theirs)
        ours.add(2)
        # our first try breaks before it writes; the retry meets the rival's version 2
        with (
            breaking_write_connections(app, after_commit=False) as broken,
            pytest.raises(IntegrityError),
        ):
            app.save(ours)
        assert len(broken) == 1
        assert app.repository.get(counter.id).count == 1
    finally:
        rival.close()


def test_with_postgresql_down_a_command_fails_within_the_store_wait_and_never_commits_later(
    fresh_database_url: str, proxy: TcpProxy
) -> None:
    app = CounterApp(postgres_env(proxy.url(fresh_database_url), "counters"))
    try:
        app.save(Counter("before"))
        proxy.cut()
        counter = Counter("during")
        outcome: list[BaseException | None] = []

        def save() -> None:
            try:
                app.save(counter)
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        started = time.monotonic()
        saving = threading.Thread(target=save)
        saving.start()
        saving.join(STORE_WAIT_SECONDS + 3)
        elapsed = time.monotonic() - started
        assert outcome, f"the save still waits after {elapsed:.1f} s"
        assert isinstance(outcome[0], OperationalError)
        assert elapsed < STORE_WAIT_SECONDS + 1

        reads_started = time.monotonic()
        with pytest.raises(OperationalError):
            app.repository.get(counter.id)
        assert time.monotonic() - reads_started < STORE_WAIT_SECONDS + 1

        proxy.open()
        # back within a few seconds (the pool does not sit out a long reconnect backoff)
        deadline = time.monotonic() + 10
        while True:
            try:
                app.save(Counter("after"))
                break
            except OperationalError:
                assert time.monotonic() < deadline, "still failing 10 s after the server came back"
        time.sleep(1.0)
        # what failed stays undone: nothing committed it behind the caller's back
        with pytest.raises(AggregateNotFoundError):
            app.repository.get(counter.id)
    finally:
        app.close()


def test_a_silent_server_is_given_up_on_within_the_store_wait(
    fresh_database_url: str, proxy: TcpProxy
) -> None:
    app = CounterApp(postgres_env(proxy.url(fresh_database_url), "counters"))
    try:
        proxy.cut()  # the pooled connections go
        proxy.stall()  # new ones are accepted and never answered
        started = time.monotonic()
        with pytest.raises(OperationalError):
            app.repository.get(uuid4())
        assert time.monotonic() - started < STORE_WAIT_SECONDS + 1
    finally:
        proxy.open()
        app.close()
