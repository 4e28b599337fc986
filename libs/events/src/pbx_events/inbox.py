"""The inbox: each consumed message takes effect exactly once.

A handler turns a message into new domain events on aggregates; those events
and the tracking record of the message commit in one transaction (the
process recorder). The tracking key is the message itself — (consumer queue,
producer, event type) and the producer's position — never a maximum position:
RabbitMQ may redeliver an older message after a newer one. A duplicate is
skipped and acked. A concurrent writer's version conflict is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import anyio
import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from prometheus_client import Counter

from pbx_events import context
from pbx_events.bus import Delivery, Handler
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, parse
from pbx_events.store import ServiceApplication

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


class Inbox:
    def __init__(self, app: ServiceApplication, queue: str) -> None:
        self.app = app
        self.queue = queue

    def handle(self, message: Message, decide: Decide) -> bool:
        """Apply a message once; returns False for a duplicate (already applied)."""
        tracking = tracking_for(self.queue, message)
        event = parse(message)
        with context.caused_by(
            correlation_id=message.correlation_id or message.message_id,
            causation_id=message.message_id,
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

    def handler(self, decide: Decide) -> Handler:
        """A bus handler that applies each delivery through this inbox, off the event loop."""

        async def on_delivery(delivery: Delivery) -> None:
            await anyio.to_thread.run_sync(self.handle, delivery.message, decide)

        return on_delivery
