"""The outbox relay: follows a service's notification log and publishes.

The application sequence (eventsourcing's notification log) *is* the outbox:
a request only records events; this relay reads them in notification order,
maps each domain event to integration events through the service's mapping,
publishes the batch with publisher confirms, and saves its position only after
the broker confirmed every message. Killed at any point, it publishes again
from the saved position: at-least-once, never lost; consumers dedupe by the
stable ``message_id``/``producer_position``.

It wakes on PostgreSQL ``LISTEN/NOTIFY`` (the recorder notifies its channel on
every insert) and polls as a fallback.

With several replicas of a service, one relay publishes at a time: each holds out for a
PostgreSQL advisory lock (a session lock, keyed by the schema and the follower's name)
and follows the log only while it holds it. The holder's death ends its session and
frees the lock; a standby takes it within ``leader_check_interval``. So each position is
published once in the ordinary case; in the moment a holder loses its connection while a
batch is in flight, the batch may be published twice — still at-least-once, absorbed by
the consumers' inboxes.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from prometheus_client import Counter, Gauge

from pbx_events.bus import Bus
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, stable_event_id, to_message
from pbx_events.store import ServiceApplication, event_meta

log = structlog.get_logger("pbx.relay")

PUBLISHED = Counter("pbx_relay_published_total", "Messages published and confirmed", ["service"])
FAILURES = Counter("pbx_relay_failures_total", "Relay batches that failed", ["service"])
LAG = Gauge("pbx_relay_lag", "Notifications not yet published", ["service"])

#: a service's mapping of its application's domain events to integration events
EventMapping = Callable[[Any], Sequence[IntegrationEvent]]


@dataclass(frozen=True)
class FollowerSettings:
    """How a log follower (the relay, the mailer, a projection) reads and retries."""

    batch_size: int = 500
    poll_interval: float = 1.0
    retry_delay: float = 0.5
    max_retry_delay: float = 10.0
    #: how often a standby tries for the lock, and the holder checks it still has it
    leader_check_interval: float = 1.0


class LogFollower(abc.ABC):
    """Follows an application's notification log from a saved position.

    ``handle_batch`` gets the domain events of each batch (with their
    notification ids); the position is saved only after it returns.
    Subclasses: the outbox relay, the mailer.

    An ``exclusive`` follower runs in one process at a time (``Leadership``) on
    PostgreSQL; elsewhere (the in-memory store: one process) it always runs.
    """

    #: follow the log only while holding the service's lock for this follower
    exclusive: bool = False

    def __init__(
        self,
        app: ServiceApplication,
        name: str,
        settings: FollowerSettings | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self.settings = settings or FollowerSettings()
        self._wake = asyncio.Event()
        self._listener: _Listener | None = None
        self._leadership: Leadership | None = None
        self.position = 0

    @property
    def leading(self) -> bool:
        """Whether this follower may follow the log now (always, unless exclusive and
        another process holds the lock)."""
        return self._leadership is None or self._leadership.held.is_set()

    @abc.abstractmethod
    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        """Handle one batch of (notification id, domain event); raise to retry it."""

    def load_position(self) -> int:
        """Where this follower got to (saved in the application's tracking table)."""
        return self.app.position(self.name)

    def store_position(self, position: int) -> None:
        self.app.save_position(self.name, position)

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> Any:
        """CPU work on a batch, done in the reading thread off the event loop (optional)."""
        return None

    async def run_once(self) -> int:
        """Process one batch; returns how many notifications it covered."""
        self.position = await anyio.to_thread.run_sync(self.load_position)
        last, batch, prepared = await anyio.to_thread.run_sync(self._read, self.position)
        if not batch:
            return 0
        await self.handle_batch(batch, prepared)
        await anyio.to_thread.run_sync(self.store_position, last)
        self.position = last
        return len(batch)

    def _read(self, after: int) -> tuple[int, list[tuple[int, Any]], Any]:
        notifications = self.app.notifications_after(after, self.settings.batch_size)
        batch = [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
        return (notifications[-1].id if notifications else after), batch, self.prepare(batch)

    async def drain(self) -> int:
        """Handle every notification there is; returns how many.

        The next batch is read and decoded while the current one is handled
        (published and confirmed); positions are still saved strictly in order,
        each only after its batch was handled.
        """
        position = await anyio.to_thread.run_sync(self.load_position)
        total = 0
        reading = asyncio.create_task(anyio.to_thread.run_sync(self._read, position))
        try:
            while True:
                last, batch, prepared = await reading
                if not batch or not self.leading:
                    return total
                reading = asyncio.create_task(anyio.to_thread.run_sync(self._read, last))
                await self.handle_batch(batch, prepared)
                await anyio.to_thread.run_sync(self.store_position, last)
                self.position = last
                total += len(batch)
        finally:
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading

    async def lag(self) -> int:
        head = await anyio.to_thread.run_sync(self.app.max_notification_id)
        position = await anyio.to_thread.run_sync(self.load_position)
        lag = max(0, head - position)
        self.record_lag(lag)
        return lag

    def record_lag(self, lag: int) -> None:
        """Export the lag (the relay sets ``pbx_relay_lag``); other followers keep it."""
        return None

    async def _measure_lag(self) -> None:
        try:
            await self.lag()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store is away: the next round measures again
            log.debug("follower_lag_unknown", follower=self.name, error=repr(exc))

    async def run(self) -> None:
        """Follow the log until cancelled; failures are retried with a growing delay. An
        exclusive follower waits, as a standby, while another process holds its lock."""
        self._start_listener()
        self._start_leadership()
        delay = self.settings.retry_delay
        try:
            while True:
                if not self.leading:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), self.settings.leader_check_interval
                        )
                    continue
                try:
                    count = await self.drain()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    FAILURES.labels(self.name).inc()
                    log.warning("follower_batch_failed", follower=self.name, error=repr(exc))
                    await self._measure_lag()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.settings.max_retry_delay)
                    continue
                delay = self.settings.retry_delay
                await self._measure_lag()
                if count == 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
        finally:
            if self._listener is not None:
                self._listener.stop()
                await asyncio.shield(asyncio.to_thread(self._listener.join, 3.0))
                self._listener = None
            if self._leadership is not None:
                self._leadership.stop()
                await asyncio.shield(asyncio.to_thread(self._leadership.join, 3.0))
                self._leadership = None

    def _start_leadership(self) -> None:
        if not self.exclusive:
            return
        datastore = getattr(self.app.recorder, "datastore", None)
        if datastore is None:
            return  # in-memory store: one process, always the leader
        loop = asyncio.get_running_loop()

        def changed() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        key = f"{datastore.schema}:{self.name}"
        self._leadership = Leadership(
            datastore.pool.kwargs, key, changed, self.settings.leader_check_interval
        )
        self._leadership.start()

    def _start_listener(self) -> None:
        recorder: Any = self.app.recorder
        channel = getattr(recorder, "channel_name", None)
        datastore = getattr(recorder, "datastore", None)
        if channel is None or datastore is None:
            return  # in-memory store: polling only
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        self._listener = _Listener(datastore, channel, wake)
        self._listener.start()


class _Listener(threading.Thread):
    """LISTEN on the recorder's channel in a thread; wake the follower on NOTIFY."""

    def __init__(self, datastore: Any, channel: str, wake: Callable[[], None]) -> None:
        super().__init__(daemon=True, name=f"listen:{channel}")
        self._datastore = datastore
        self._channel = channel
        self._wake = wake
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        from psycopg.sql import SQL, Identifier

        while not self._stopping.is_set():
            try:
                with self._datastore.get_connection() as conn:
                    conn.autocommit = True
                    conn.execute(SQL("LISTEN {0}").format(Identifier(self._channel)))
                    try:
                        while not self._stopping.is_set():
                            for _ in conn.notifies(timeout=1.0, stop_after=1):
                                self._wake()
                    finally:
                        with contextlib.suppress(Exception):
                            conn.execute(SQL("UNLISTEN {0}").format(Identifier(self._channel)))
                            conn.autocommit = False
            except Exception:
                # the database went away: polling covers us until it is back
                self._stopping.wait(1.0)


class Leadership(threading.Thread):
    """Holds, or waits for, a PostgreSQL session advisory lock named ``key``, on a
    connection of its own (never a pooled one: a session lock would go back to the pool
    with it). ``held`` is set while this process holds it; ``changed`` is called when that
    changes. The lock is freed by ``stop`` and by the end of the session — the process's
    death included — after which a standby takes it within ``interval``."""

    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        key: str,
        changed: Callable[[], None],
        interval: float = 1.0,
    ) -> None:
        super().__init__(daemon=True, name=f"leadership:{key}")
        self._kwargs = {
            k: v
            for k, v in connect_kwargs.items()
            if k in ("dbname", "host", "port", "user", "password")
        }
        self.key = key
        self._changed = changed
        self._interval = interval
        self._stopping = threading.Event()
        self.held = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _set(self, held: bool) -> None:
        if held != self.held.is_set():
            (self.held.set if held else self.held.clear)()
            log.info("leadership_taken" if held else "leadership_lost", lock=self.key)
            self._changed()

    def run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    **self._kwargs,
                    autocommit=True,
                    connect_timeout=5,
                    # a holder whose host vanished is noticed in seconds, not hours
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=2,
                ) as conn:
                    while not self._stopping.is_set():
                        if self.held.is_set():
                            conn.execute("SELECT 1")  # still our session: still ours
                        else:
                            row = conn.execute(
                                "SELECT pg_try_advisory_lock(hashtext(%s))", (self.key,)
                            ).fetchone()
                            self._set(bool(row and row[0]))
                        self._stopping.wait(self._interval)
                    if self.held.is_set():
                        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.key,))
                    self._set(False)
            except Exception as exc:
                # the session is gone, and the lock with it
                self._set(False)
                log.warning("leadership_connection_failed", lock=self.key, error=repr(exc))
                self._stopping.wait(self._interval)


class OutboxRelay(LogFollower):
    """Publishes a service's integration events from its notification log (one relay per
    service at a time: exclusive)."""

    exclusive = True

    def __init__(
        self,
        app: ServiceApplication,
        producer: str,
        mapping: EventMapping,
        bus: Bus,
        settings: FollowerSettings | None = None,
    ) -> None:
        super().__init__(app, f"relay:{producer}", settings)
        self.producer = producer
        self.mapping = mapping
        self.bus = bus

    def record_lag(self, lag: int) -> None:
        LAG.labels(self.producer).set(lag)

    def messages_for(self, batch: Sequence[tuple[int, Any]]) -> list[Message]:
        messages: list[Message] = []
        for position, domain_event in batch:
            meta = event_meta(domain_event)
            for integration_event in self.mapping(domain_event):
                messages.append(
                    to_message(
                        integration_event,
                        message_id=stable_event_id(
                            domain_event.originator_id,
                            domain_event.originator_version,
                            integration_event.type_name(),
                        ),
                        producer_position=position,
                        correlation_id=meta.get("correlation_id"),
                        causation_id=meta.get("causation_id"),
                        timestamp=getattr(domain_event, "timestamp", None),
                    )
                )
        return messages

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> list[Message]:
        return self.messages_for(batch)

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        messages = prepared if prepared is not None else self.messages_for(batch)
        if messages:
            await self.bus.publish(messages)  # raises PublishError unless all confirmed
            PUBLISHED.labels(self.producer).inc(len(messages))
            log.info(
                "relay_published",
                producer=self.producer,
                count=len(messages),
                last_position=batch[-1][0],
            )
