"""The recorders: per-message tracking (PostgreSQL and its in-memory twin), bounded waits,
and a retried write that recognises its own commit.

- Tracking is per message: a row per (upstream, position), never a maximum
  per upstream (RabbitMQ redelivers out of order). The library's defaults keep
  a maximum (``SINGLE_ROW_TRACKING``, and the POPO recorder), so both recorders
  are replaced here with ones that can answer "was *this* message handled?".
- Bounded waits: with PostgreSQL down, a store call gives up within
  ``STORE_WAIT_SECONDS`` (the library would retry ten times behind a 30 s pool
  timeout, and commit a request minutes after its client gave up).
- A retried write recognises its own commit: when a connection broke after the
  COMMIT was sent, the retry meets its own rows; they are compared byte for byte
  with what it tried to write and, when they are the same, the write succeeded.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import structlog
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
    Tracking,
)
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg.sql import SQL, Identifier

log = structlog.get_logger("pbx.store")

#: the longest one event-store call waits for a PostgreSQL that does not answer
STORE_WAIT_SECONDS = 5.0
#: waiting for a pooled connection (the library's POSTGRES_CONNECT_TIMEOUT is this
#: pool checkout timeout): a retry starts only if a whole checkout still fits
CHECKOUT_TIMEOUT_SECONDS = 2
_RETRY_PAUSE_SECONDS = 0.1

T = TypeVar("T")


def _within_store_wait(call: Callable[[], T]) -> T:
    """Run ``call``, again after a lost or refused connection, for ``STORE_WAIT_SECONDS``
    at most: an attempt starts only if a whole pool checkout still fits."""
    deadline = time.monotonic() + STORE_WAIT_SECONDS
    while True:
        try:
            return call()
        except (InterfaceError, OperationalError):
            pause = _RETRY_PAUSE_SECONDS
            if time.monotonic() + pause + CHECKOUT_TIMEOUT_SECONDS > deadline:
                raise
            time.sleep(pause)


def _library(name: str) -> Callable[..., Any]:
    """The library's recorder method without its retry decorator (ten tries)."""
    method = getattr(PostgresProcessRecorder, name)
    raw: Callable[..., Any] = method.__wrapped__
    return raw


def _bounded(name: str) -> Callable[..., Any]:
    raw = _library(name)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _within_store_wait(lambda: raw(self, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"The library's ``{name}``, retried for ``STORE_WAIT_SECONDS`` at most."
    return method


_insert_events = _library("insert_events")
_insert_tracking = _library("insert_tracking")


class PerMessagePostgresProcessRecorder(PostgresProcessRecorder):
    """Multi-row tracking with an exact lookup (``SINGLE_ROW_TRACKING=n`` is required).

    Also records several tracking rows with one transaction's events
    (``trackings=[...]``), so the inbox can commit a batch of messages at once.
    Its calls wait ``STORE_WAIT_SECONDS`` at most, and a write retried after a
    broken connection recognises its own commit.
    """

    select_events = _bounded("select_events")
    select_notifications = _bounded("select_notifications")
    max_notification_id = _bounded("max_notification_id")
    max_tracking_id = _bounded("max_tracking_id")
    # the library's has_tracking_id calls max_tracking_id (bounded already): not retried twice
    has_tracking_id = _library("has_tracking_id")

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert in one transaction; a retry that meets its own committed rows succeeds."""
        unsure = False

        def attempt() -> Sequence[int] | None:
            nonlocal unsure
            try:
                ids: Sequence[int] | None = _insert_events(self, stored_events, **kwargs)
            except IntegrityError:
                if unsure and stored_events:
                    committed = self.committed_notification_ids(stored_events)
                    if committed is not None:
                        log.warning("retried_write_found_own_commit", events=len(committed))
                        return committed
                raise
            except (InterfaceError, OperationalError):
                # the link may have broken after COMMIT was sent: it may have committed
                unsure = True
                raise
            return ids

        return _within_store_wait(attempt)

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position; a retry that finds it recorded after a broken link succeeds."""
        unsure = False

        def attempt() -> None:
            nonlocal unsure
            try:
                _insert_tracking(self, tracking)
            except IntegrityError:
                if unsure and self.tracking_exists(
                    tracking.application_name, tracking.notification_id
                ):
                    return
                raise
            except (InterfaceError, OperationalError):
                unsure = True
                raise

        _within_store_wait(attempt)

    def committed_notification_ids(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The notification ids of these very events when every one of them is stored with
        the same topic and bytes (our own commit: the state was encrypted once, before the
        first try, so a rival writer's bytes differ); None otherwise."""
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id "
            "FROM {0}.{1} WHERE (originator_id, originator_version) IN "
            "(SELECT * FROM unnest(%s::{2}[], %s::bigint[]))"
        ).format(
            Identifier(self.datastore.schema),
            Identifier(self.events_table_name),
            SQL("uuid" if self.datastore.originator_id_type == "uuid" else "text"),
        )
        ids = [e.originator_id for e in stored_events]
        versions = [e.originator_version for e in stored_events]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (ids, versions))
            rows = {
                (str(r["originator_id"]), int(r["originator_version"])): r for r in curs.fetchall()
            }
        notification_ids: list[int] = []
        for event in stored_events:
            row = rows.get((str(event.originator_id), int(event.originator_version)))
            if row is None or row["topic"] != event.topic or bytes(row["state"]) != event.state:
                return None
            notification_ids.append(int(row["notification_id"]))
        return notification_ids

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        trackings: Sequence[Tracking] = kwargs.get("trackings", ())
        if trackings:
            # one statement for the whole batch; a duplicate violates the primary key
            statement = SQL(
                "INSERT INTO {0}.{1} (application_name, notification_id) "
                "SELECT * FROM unnest(%s::text[], %s::bigint[])"
            ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))
            curs.execute(
                statement,
                (
                    [t.application_name for t in trackings],
                    [t.notification_id for t in trackings],
                ),
                prepare=True,
            )
        super()._insert_events(curs, stored_events, **kwargs)

    def tracked_among(self, trackings: Sequence[Tracking]) -> set[Tracking]:
        """Which of the given messages were handled already (one query)."""
        if not trackings:
            return set()
        statement = SQL(
            "SELECT application_name, notification_id FROM {0}.{1} "
            "WHERE (application_name, notification_id) IN "
            "(SELECT * FROM unnest(%s::text[], %s::bigint[]))"
        ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))
        names = [t.application_name for t in trackings]
        ids = [t.notification_id for t in trackings]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (names, ids), prepare=True)
            return {Tracking(r["application_name"], r["notification_id"]) for r in curs.fetchall()}

    def tracking_exists(self, application_name: str, notification_id: int) -> bool:
        statement = SQL(
            "SELECT 1 FROM {0}.{1} WHERE application_name=%s AND notification_id=%s"
        ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (application_name, notification_id), prepare=True)
            return curs.fetchone() is not None


class PerMessagePOPOProcessRecorder(POPOProcessRecorder):
    """The in-memory recorder, tracking each message rather than a maximum (unit tests)."""

    def __init__(self) -> None:
        super().__init__()
        self._tracked: dict[str, set[int]] = defaultdict(set)

    def _assert_tracking_uniqueness(self, tracking: Tracking) -> None:
        if tracking.notification_id in self._tracked[tracking.application_name]:
            raise IntegrityError(f"already tracked: {tracking}")

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        trackings = list(kwargs.get("trackings", ()))
        if len(set(trackings)) < len(trackings):
            raise IntegrityError("the same message twice in one transaction")
        for tracking in trackings:
            self._assert_tracking_uniqueness(tracking)

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(tracking)
        return notification_ids

    def tracked_among(self, trackings: Sequence[Tracking]) -> set[Tracking]:
        with self._database_lock:
            return {t for t in trackings if t.notification_id in self._tracked[t.application_name]}

    def _insert_tracking(self, tracking: Tracking) -> None:
        self._tracked[tracking.application_name].add(tracking.notification_id)

    def max_tracking_id(self, application_name: str) -> int | None:
        with self._database_lock:
            ids = self._tracked.get(application_name)
            return max(ids) if ids else None

    def tracking_exists(self, application_name: str, notification_id: int) -> bool:
        with self._database_lock:
            return notification_id in self._tracked.get(application_name, set())
