"""The event store every service's application stands on (eventsourcing 9.5).

- ``ServiceApplication``: an ``Application`` whose recorder is a *process*
  recorder, so a handler's new events and the tracking record of the message
  it handled commit in one transaction (the inbox), and whose mapper stamps
  each recorded domain event with the correlation context (``pbx_events.context``).
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
- ``postgres_env``: the library's settings for one service's schema.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import date
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import structlog
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from eventsourcing.utils import Environment, EnvType
from psycopg.sql import SQL, Identifier

from pbx_events import context

log = structlog.get_logger("pbx.store")

META_KEY = "_pbx_meta"

#: the longest one event-store call waits for a PostgreSQL that does not answer
STORE_WAIT_SECONDS = 5.0
#: waiting for a pooled connection (the library's POSTGRES_CONNECT_TIMEOUT is this
#: pool checkout timeout), and for a new connection to be made (libpq connect_timeout)
CHECKOUT_TIMEOUT_SECONDS = 2
CONNECT_TIMEOUT_SECONDS = 2
#: how long the pool keeps retrying one lost connection in the background before it
#: gives up (the next request asks for a new one): its backoff doubles without a cap,
#: so a long give-up time would leave the pool empty long after PostgreSQL is back
RECONNECT_GIVE_UP_SECONDS = 5.0
_RETRY_PAUSE_SECONDS = 0.1

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


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class BoundedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, its pool's waits bounded: a new connection gives
    up after ``CONNECT_TIMEOUT_SECONDS`` (libpq would wait for TCP, minutes on a silent
    host) and a lost one is retried in the background for ``RECONNECT_GIVE_UP_SECONDS``."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        assert isinstance(pool.kwargs, dict)
        pool.kwargs["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        pool.reconnect_timeout = RECONNECT_GIVE_UP_SECONDS


def postgres_env(database_url: str, schema: str, *, pool_size: int = 5) -> dict[str, str]:
    """eventsourcing settings for a service's own schema in the given database."""
    url = urlsplit(database_url)
    host = url.hostname or ""
    if not host:
        # a unix socket given as ?host=/path (libpq style)
        from urllib.parse import parse_qs

        host = parse_qs(url.query).get("host", ["127.0.0.1"])[0]
    return {
        "PERSISTENCE_MODULE": _topic(BoundedPostgresFactory),
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
        # the pool checkout timeout (despite its name); connects and retries are
        # bounded by BoundedPostgresFactory and the recorder
        "POSTGRES_CONNECT_TIMEOUT": str(CHECKOUT_TIMEOUT_SECONDS),
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


#: the aggregates ``save`` collected instead of recording them (inside ``deferred_saves``)
_deferred: ContextVar[list[Any] | None] = ContextVar("pbx_deferred_saves", default=None)


@contextlib.contextmanager
def deferred_saves() -> Iterator[list[Any]]:
    """Inside, ``ServiceApplication.save`` collects the aggregates instead of recording
    them: the inbox then records them with the tracking of the message that caused them,
    in one transaction. So a consumer calls the same application method as an HTTP
    route (load → decide → save), and the message still takes effect exactly once."""
    collected: list[Any] = []
    token = _deferred.set(collected)
    try:
        yield collected
    finally:
        _deferred.reset(token)


class ServiceApplication(Application[Any]):
    """Base of every service's application: process recorder, causation mapper."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Record the aggregates' new events (collected instead inside ``deferred_saves``)."""
        collected = _deferred.get()
        if collected is not None:
            collected.extend(obj for obj in objs if obj is not None)
            return []
        return super().save(*objs, **kwargs)

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
