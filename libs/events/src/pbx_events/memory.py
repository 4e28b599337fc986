"""The in-process bus (``PBX_AMQP_URL=memory://``): RabbitMQ's semantics in one process.

Same routing (topic exchange, mandatory publish), same manual ack, the same
delivery limit with growing retry delays and dead-lettering to ``<queue>.dlq``,
the same bounded prefetch with concurrent handling. Nothing survives the
process: the outbox relay re-publishes from its saved position after a restart.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from pbx_events.bus import (
    BusSettings,
    Delivery,
    Handler,
    PublishError,
    ReplayError,
    deliver_replayed,
    dlq_name,
    handle_riding_out,
    matches_any,
    replay_cutoff,
    topic_matches,
)
from pbx_events.envelope import Message

log = structlog.get_logger("pbx.bus.memory")

AUDIT_RETENTION = 10_000


@dataclass
class _Item:
    message: Message
    returns: int = 0


@dataclass
class _Queue:
    name: str
    patterns: set[str] = field(default_factory=set)
    items: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)


class _MemorySubscription:
    def __init__(self, tasks: list[asyncio.Task[None]]) -> None:
        self._tasks = tasks

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class InMemoryBus:
    def __init__(self, settings: BusSettings | None = None) -> None:
        self.settings = settings or BusSettings()
        self._queues: dict[str, _Queue] = {}
        self._subscriptions: list[_MemorySubscription] = []
        self.audit: collections.deque[Message] = collections.deque(maxlen=AUDIT_RETENTION)
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        for sub in self._subscriptions:
            await sub.cancel()
        self._subscriptions.clear()
        self.connected = False

    async def is_healthy(self) -> bool:
        return self.connected

    def _queue(self, name: str) -> _Queue:
        if name not in self._queues:
            self._queues[name] = _Queue(name)
        return self._queues[name]

    async def declare_queue(self, queue: str, routing_keys: Sequence[str]) -> None:
        self._queue(queue).patterns.update(routing_keys)
        self._queue(dlq_name(queue))

    async def publish(self, messages: Sequence[Message]) -> None:
        if not self.connected:
            raise PublishError("bus is not connected")
        routes = []
        for message in messages:
            targets = [
                q
                for q in self._queues.values()
                if any(topic_matches(p, message.routing_key) for p in q.patterns)
            ]
            routes.append((message, targets))
        for message, targets in routes:
            if self.settings.audit:
                # the audit stream is bound to '#': every message is routable
                self.audit.append(message)
            elif not targets:
                raise PublishError(f"unroutable: {message.routing_key}")
        for message, targets in routes:
            for q in targets:
                q.items.put_nowait(_Item(message))

    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler):  # type: ignore[no-untyped-def]
        await self.declare_queue(queue, routing_keys)
        q = self._queue(queue)
        tasks = [
            asyncio.create_task(self._worker(q, handler), name=f"bus:{queue}:{i}")
            for i in range(self.settings.prefetch)
        ]
        sub = _MemorySubscription(tasks)
        self._subscriptions.append(sub)
        return sub

    async def _worker(self, q: _Queue, handler: Handler) -> None:
        while True:
            item = await q.items.get()
            delivery = Delivery(
                message=item.message,
                queue=q.name,
                delivery_count=item.returns,
                redelivered=item.returns > 0,
            )
            try:
                await handle_riding_out(handler, delivery, self.settings)
            except asyncio.CancelledError:
                # like a channel closing with the message unacked: it goes back
                item.returns += 1
                q.items.put_nowait(item)
                raise
            except Exception:
                item.returns += 1
                log.warning(
                    "handler_failed",
                    queue=q.name,
                    message_id=item.message.message_id,
                    type=item.message.type,
                    delivery_count=item.returns,
                    exc_info=True,
                )
                if item.returns > self.settings.delivery_limit:
                    log.error("dead_lettered", queue=q.name, message_id=item.message.message_id)
                    self._queue(dlq_name(q.name)).items.put_nowait(_Item(item.message))
                    continue
                await asyncio.sleep(self.settings.retry_delay(item.returns - 1))
                q.items.put_nowait(item)

    async def dead_letters(self, queue: str) -> list[Message]:
        q = self._queue(dlq_name(queue))
        drained = []
        while not q.items.empty():
            drained.append(q.items.get_nowait().message)
        return drained

    async def dead_letter_count(self, queue: str) -> int:
        return self._queue(dlq_name(queue)).items.qsize()

    async def replay_audit(
        self, routing_keys: Sequence[str], handler: Handler, *, until: datetime | None = None
    ) -> int:
        """The audit as it was at the call (``AUDIT_RETENTION`` newest messages), in
        publish order; see ``Bus.replay_audit``."""
        if not self.settings.audit:
            raise ReplayError(f"no audit stream to replay: audit is off ({self.settings.exchange})")
        cutoff = replay_cutoff(self.settings, until)
        delivered = 0
        for message in list(self.audit):
            if message.timestamp > cutoff:
                break
            if matches_any(routing_keys, message.routing_key):
                await deliver_replayed(handler, message, self.settings)
                delivered += 1
        log.info("audit_replayed", routing_keys=list(routing_keys), delivered=delivered)
        return delivered

    def pending(self, queue: str) -> int:
        """Messages waiting in a queue (not counting those being handled)."""
        return self._queue(queue).items.qsize()
