"""The event store every service's application stands on (eventsourcing 9.5).

- ``ServiceApplication``: an ``Application`` whose recorder is a *process*
  recorder, so a handler's new events and the tracking record of the message
  it handled commit in one transaction (the inbox), and whose mapper stamps
  each recorded domain event with the correlation context (``pbx_events.context``).
- Tracking is per message: a row per (upstream, position), never a maximum
  per upstream (RabbitMQ redelivers out of order). The library's defaults keep
  a maximum (``SINGLE_ROW_TRACKING``, and the POPO recorder), so both recorders
  are replaced here with ones that can answer "was *this* message handled?".
- ``postgres_env``: the library's settings for one service's schema.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg.sql import SQL, Identifier

from pbx_events import context

META_KEY = "_pbx_meta"

A = TypeVar("A", bound=MutableOrImmutableAggregate[Any])
T = TypeVar("T")


class DateAsISO(Transcoding):
    """Calendar dates (a document's expiry, an approval's end) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CausationMapper(Mapper[Any]):
    """Stores the correlation context with each domain event (inside the encrypted state)."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if META_KEY not in vars(domain_event):
            causation = context.current()
            if causation is not None:
                object.__setattr__(
                    domain_event,
                    META_KEY,
                    {
                        "correlation_id": causation.correlation_id,
                        "causation_id": causation.causation_id,
                    },
                )
        return super().to_stored_event(domain_event)


def event_meta(domain_event: object) -> dict[str, str]:
    meta = vars(domain_event).get(META_KEY)
    return dict(meta) if isinstance(meta, dict) else {}


class PerMessagePostgresProcessRecorder(PostgresProcessRecorder):
    """Multi-row tracking with an exact lookup (``SINGLE_ROW_TRACKING=n`` is required).

    Also records several tracking rows with one transaction's events
    (``trackings=[...]``), so the inbox can commit a batch of messages at once.
    """

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


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def postgres_env(database_url: str, schema: str, *, pool_size: int = 5) -> dict[str, str]:
    """eventsourcing settings for a service's own schema in the given database."""
    url = urlsplit(database_url)
    host = url.hostname or ""
    if not host:
        # a unix socket given as ?host=/path (libpq style)
        from urllib.parse import parse_qs

        host = parse_qs(url.query).get("host", ["127.0.0.1"])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": (url.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        # no ping on every checkout (a round trip each): the library retries
        # statements on a dropped connection instead
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        # per-message inbox tracking, never a maximum per upstream
        "SINGLE_ROW_TRACKING": "n",
        # keep the table lock that keeps notification ids in commit order:
        # the relay reads by position and must never pass over a late commit
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "PROCESS_RECORDER_TOPIC": _topic(PerMessagePostgresProcessRecorder),
    }


def cipher_env(key: str | None) -> dict[str, str]:
    """AES-GCM encryption of every stored event's state (personal data at rest)."""
    if not key:
        return {}
    return {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": key}


def new_cipher_key() -> str:
    from eventsourcing.cipher import AESCipher

    return str(AESCipher.create_key(num_bytes=32))


def ensure_schema(database_url: str, schema: str) -> None:
    """Create the service's schema (eventsourcing creates tables, not schemas)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(schema)))


class ServiceApplication(Application[Any]):
    """Base of every service's application: process recorder, causation mapper."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_mapper(self) -> Mapper[Any]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=CausationMapper
        )

    def construct_recorder(self) -> Any:
        if self.env.get("PERSISTENCE_MODULE", "") in ("", "eventsourcing.popo"):
            return PerMessagePOPOProcessRecorder()
        return self.factory.process_recorder()

    def change(
        self,
        load: Callable[[], A],
        decide: Callable[[A], T],
        also: Callable[[], Sequence[Any]] = tuple,
        attempts: int = 100,
    ) -> T:
        """Load, decide, save with optimistic concurrency: after a lost race (another
        writer saved the aggregate first) load the new version and decide again."""
        for attempt in range(attempts):
            aggregate = load()
            result = decide(aggregate)
            try:
                self.save(aggregate, *also())
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
                continue
            return result
        raise RuntimeError(f"{type(self).__name__}: gave up after {attempts} lost races")

    def save_tracked(
        self,
        tracking: Tracking,
        *objs: MutableOrImmutableAggregate[Any] | None,
    ) -> None:
        """Save new events and the record of the message that caused them, atomically."""
        processing_event: ProcessingEvent[Any] = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*objs)
        recordings = self._record(processing_event)
        self._notify(recordings)

    def save_tracked_many(self, trackings: Sequence[Tracking], events: Sequence[Any]) -> None:
        """Save the events of several messages and their tracking records, atomically."""
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        processing_event.collect_events(*events, trackings=list(trackings))
        recordings = self._record(processing_event)
        self._notify(recordings)

    def tracked_among(self, trackings: Sequence[Tracking]) -> set[Tracking]:
        recorder: Any = self.recorder
        return set(recorder.tracked_among(trackings))

    def is_tracked(self, tracking: Tracking) -> bool:
        recorder: Any = self.recorder
        return bool(recorder.tracking_exists(tracking.application_name, tracking.notification_id))

    def save_position(self, name: str, position: int) -> None:
        """Record how far a follower of this application's log has got (the relay)."""
        recorder: Any = self.recorder
        if not self.is_tracked(Tracking(name, position)):
            recorder.insert_tracking(Tracking(name, position))

    def position(self, name: str) -> int:
        recorder: Any = self.recorder
        value = recorder.max_tracking_id(name)
        return int(value) if value is not None else 0

    def max_notification_id(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def notifications_after(self, position: int, limit: int) -> Sequence[Any]:
        return self.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )
