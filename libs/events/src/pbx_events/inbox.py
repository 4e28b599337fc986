"""The inbox: each consumed message takes effect exactly once.

A handler (``decide``) turns a message into new domain events on aggregates;
those events and the tracking record of the message commit in one
transaction (the process recorder). The tracking key is the message itself —
(consumer queue, event type) and the producer's position — never a maximum
position: RabbitMQ may redeliver an older message after a newer one. A
duplicate is skipped and acked. A concurrent writer's version conflict is
retried.

Deliveries that arrive together (up to the prefetch) are committed together:
one transaction per group of messages, each message's events stamped with its
own correlation. A group ends where a message touches an aggregate the group
already changed (that message is decided again on the new version, in the next
group). When a group cannot commit (a duplicate or a concurrent writer racing
in) or a decision fails, the rest are applied one by one, so a batch never
changes what happens, only how fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from prometheus_client import Counter

from pbx_events import context
from pbx_events.bus import Delivery, Handler, message_log_context
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, parse
from pbx_events.store import META_KEY, ServiceApplication

log = structlog.get_logger("pbx.inbox")

HANDLED = Counter("pbx_inbox_handled_total", "Messages that took effect", ["queue"])
DUPLICATES = Counter("pbx_inbox_duplicates_total", "Duplicate messages skipped", ["queue"])

#: decides what a message does: returns the aggregates with new events to save
Decide = Callable[[IntegrationEvent, Message], Sequence[Any]]

MAX_CONFLICT_RETRIES = 10


class PoisonMessageError(ValueError):
    """Raised when a message cannot be tracked (no producer position)."""


def tracking_for(queue: str, message: Message) -> Tracking:
    position = message.producer_position
    if position is None:
        raise PoisonMessageError(f"message {message.message_id} has no producer_position")
    return Tracking(application_name=f"{queue}|{message.type}", notification_id=position)


def _causation(message: Message) -> context.Causation:
    return context.Causation(
        correlation_id=message.correlation_id or message.message_id,
        causation_id=message.message_id,
    )


@dataclass
class _Pending:
    message: Message
    decide: Decide
    done: asyncio.Future[bool]


class Inbox:
    def __init__(self, app: ServiceApplication, queue: str, *, max_batch: int = 200) -> None:
        self.app = app
        self.queue = queue
        self.max_batch = max_batch
        self._pending: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None

    # -- one message -------------------------------------------------------

    def handle(self, message: Message, decide: Decide) -> bool:
        """Apply a message once; returns False for a duplicate (already applied)."""
        tracking = tracking_for(self.queue, message)
        event = parse(message)
        causation = _causation(message)
        with (
            context.caused_by(causation.correlation_id, causation.causation_id),
            message_log_context(message, self.queue),
        ):
            for _attempt in range(MAX_CONFLICT_RETRIES):
                if self.app.is_tracked(tracking):
                    DUPLICATES.labels(self.queue).inc()
                    log.info("inbox_duplicate", queue=self.queue, message_id=message.message_id)
                    return False
                aggregates = decide(event, message)
                try:
                    self.app.save_tracked(tracking, *aggregates)
                except IntegrityError:
                    # a concurrent duplicate (tracking) or a concurrent writer
                    # (aggregate version): look again, then decide again
                    continue
                HANDLED.labels(self.queue).inc()
                return True
        raise RuntimeError(f"inbox: gave up after {MAX_CONFLICT_RETRIES} conflicts")

    # -- a batch -----------------------------------------------------------

    def handle_many(self, items: Sequence[tuple[Message, Decide]]) -> list[bool | BaseException]:
        """Apply several messages in one transaction when possible; per message otherwise.

        Returns, per message, True (applied), False (duplicate) or the exception
        that message raised (it alone is retried by the bus).
        """
        results: list[bool | BaseException | None] = [None] * len(items)
        trackings: list[Tracking | None] = []
        for index, (message, _decide) in enumerate(items):
            try:
                trackings.append(tracking_for(self.queue, message))
            except Exception as exc:
                trackings.append(None)
                results[index] = exc
        known = [t for t in trackings if t is not None]
        done = self.app.tracked_among(known)
        seen: set[Tracking] = set()
        batch: list[int] = []
        for index, tracking in enumerate(trackings):
            if tracking is None:
                continue
            if tracking in done or tracking in seen:
                results[index] = False
                DUPLICATES.labels(self.queue).inc()
                continue
            seen.add(tracking)
            batch.append(index)
        for index in self._commit_in_groups(items, trackings, batch, results):
            message, decide = items[index]
            try:
                results[index] = self.handle(message, decide)
            except Exception as exc:
                results[index] = exc
        return [r if r is not None else False for r in results]

    def _commit_in_groups(
        self,
        items: Sequence[tuple[Message, Decide]],
        trackings: Sequence[Tracking | None],
        batch: Sequence[int],
        results: list[bool | BaseException | None],
    ) -> list[int]:
        """Commit the batch in as few transactions as possible; returns the messages left
        to apply one by one.

        A group ends where a message touches an aggregate the group already changed (its
        decision was made on a version the group is about to replace): the group commits,
        and that message is decided again, on the new version, in the next group.
        """
        pending = list(batch)
        while pending:
            group: list[int] = []
            events: list[Any] = []
            touched: set[Any] = set()
            failed = False
            for index in pending:
                message, decide = items[index]
                causation = _causation(message)
                try:
                    with (
                        context.caused_by(causation.correlation_id, causation.causation_id),
                        message_log_context(message, self.queue),
                    ):
                        aggregates = decide(parse(message), message)
                except Exception:
                    failed = True  # the one-by-one path finds and reports the culprit
                    break
                if any(aggregate.id in touched for aggregate in aggregates):
                    break  # decided on a version this group replaces: decide again next
                for aggregate in aggregates:
                    touched.add(aggregate.id)
                    for domain_event in aggregate.collect_events():
                        object.__setattr__(
                            domain_event,
                            META_KEY,
                            {
                                "correlation_id": causation.correlation_id,
                                "causation_id": causation.causation_id,
                            },
                        )
                        events.append(domain_event)
                group.append(index)
            if group:
                to_track = [t for i in group if (t := trackings[i]) is not None]
                try:
                    self.app.save_tracked_many(to_track, events)
                except IntegrityError:
                    return pending  # a concurrent writer or duplicate: one by one
                for index in group:
                    results[index] = True
                HANDLED.labels(self.queue).inc(len(group))
            pending = pending[len(group) :]
            if failed:
                return pending
        return []

    # -- the bus side -----------------------------------------------------------

    def handler(self, decide: Decide) -> Handler:
        """A bus handler: deliveries arriving together are applied as one batch, off the loop."""

        async def on_delivery(delivery: Delivery) -> None:
            done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._pending.append(_Pending(delivery.message, decide, done))
            if self._worker is None or self._worker.done():
                self._worker = asyncio.create_task(self._drain())
            await done  # raises that message's error: the bus retries it alone

        return on_delivery

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let deliveries that arrived together join the batch
            batch, self._pending = (
                self._pending[: self.max_batch],
                self._pending[self.max_batch :],
            )
            try:
                results = await anyio.to_thread.run_sync(
                    self.handle_many, [(p.message, p.decide) for p in batch]
                )
            except BaseException as exc:
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(
                            exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
                        )
                if not isinstance(exc, Exception):
                    raise
                continue
            for pending, result in zip(batch, results, strict=True):
                if pending.done.done():
                    continue  # the delivery was cancelled (channel closed)
                if isinstance(result, BaseException):
                    pending.done.set_exception(result)
                else:
                    pending.done.set_result(result)
