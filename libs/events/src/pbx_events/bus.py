"""What both buses (RabbitMQ and in-process) promise, and their shared settings.

Publishing: every message is persistent, routed by its key on the topic
exchange, and ``publish`` returns only when the broker confirmed all of them
(raises ``PublishError`` otherwise, including for an unroutable message).

Consuming: each consumer owns a durable queue bound to the keys it needs.
The handler's return acks the message; an exception redelivers it after a
growing delay, until the queue's delivery limit, after which the message is
dead-lettered to ``pbx.dlx`` and lands in ``<queue>.dlq``. Prefetch is bounded
and messages are handled concurrently up to it, so a poison message never
blocks the ones behind it. A handler that fails because PostgreSQL or RabbitMQ
is out of reach keeps its message and tries again (``handle_riding_out``): an
outage does not spend the message's delivery limit.

Replaying history (``replay_audit``): a consumer started after others published
has missed every message sent before its queue existed; the audit stream
(``<exchange>.audit``, on by default) kept them all. So a consumer that rebuilds a
read model from history starts in this order: declare its live queues first (from
then on new messages wait there), replay the audit stream for its keys (oldest
first, one message at a time, up to the moment of the call), then consume the live
queues. Messages published around the call may come twice (once replayed, once
live): the inbox skips the duplicate. A handler that fails during the replay makes
``replay_audit`` raise, so the start fails loudly instead of skipping history.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

import structlog
from prometheus_client import Gauge

from pbx_events.availability import is_unavailable
from pbx_events.envelope import Message

log = structlog.get_logger("pbx.bus")

DEFAULT_EXCHANGE = "pbx.events"
DEFAULT_DLX = "pbx.dlx"


@dataclass(frozen=True)
class Delivery:
    message: Message
    queue: str
    #: how many times this message was delivered before (0 on the first delivery)
    delivery_count: int
    redelivered: bool


Handler = Callable[[Delivery], Awaitable[None]]


@dataclass(frozen=True)
class BusSettings:
    exchange: str = DEFAULT_EXCHANGE
    dead_letter_exchange: str = DEFAULT_DLX
    #: deliveries of one message before it is dead-lettered
    delivery_limit: int = 5
    #: unacked deliveries per consumer; the inbox commits those that arrive together at once
    prefetch: int = 256
    retry_base_delay: float = 0.2
    retry_max_delay: float = 5.0
    confirm_timeout: float = 10.0
    heartbeat: int = 15
    #: seconds between reconnect attempts after the broker connection dropped
    reconnect_interval: float = 1.0
    #: bind an audit stream (``<exchange>.audit``) to every key, so auditors can
    #: replay the whole event history and every message is routable
    audit: bool = True
    #: a handler that found PostgreSQL or RabbitMQ out of reach tries again after this
    #: pause (doubling up to the max), holding its message, for this long at most
    unavailable_first_pause: float = 0.5
    unavailable_max_pause: float = 5.0
    unavailable_hold: float = 600.0
    #: ``replay_audit`` stops when the audit stream delivered nothing for this long
    #: (it has caught up: a stream never ends)
    audit_replay_idle: float = 1.0
    #: ``replay_audit`` without ``until`` stops at the first message stamped later than
    #: the call plus this margin: timestamps come from the producers' clocks, and a clock
    #: running ahead must not end the replay before history does (extra messages are
    #: duplicates of the live queues, which the inbox skips)
    audit_replay_clock_skew: float = 5.0
    #: unacked messages of the audit stream in flight to ``replay_audit`` (streams need a
    #: prefetch; their consumers ack to get more)
    audit_replay_prefetch: int = 100

    @property
    def audit_stream(self) -> str:
        return f"{self.exchange}.audit"

    def retry_delay(self, delivery_count: int) -> float:
        return float(min(self.retry_max_delay, self.retry_base_delay * (2**delivery_count)))


@contextlib.contextmanager
def message_log_context(message: Message, queue: str) -> Iterator[None]:
    """Every log line written while a message is handled carries its correlation id, its
    causation id (what caused the message), its ``message_id`` and the queue."""
    with structlog.contextvars.bound_contextvars(
        correlation_id=message.correlation_id or message.message_id,
        causation_id=message.causation_id,
        message_id=message.message_id,
        queue=queue,
    ):
        yield


async def handle_riding_out(handler: Handler, delivery: Delivery, settings: BusSettings) -> None:
    """Run the handler; while it fails because a server is out of reach, keep the message
    and try again with a growing pause, for ``unavailable_hold`` seconds at most. Any
    other error (and an outage longer than that) is raised: the message is redelivered,
    and dead-lettered past the delivery limit. The handler's log lines carry the message's
    ids (``message_log_context``)."""
    with message_log_context(delivery.message, delivery.queue):
        await _handle_riding_out(handler, delivery, settings)


async def _handle_riding_out(handler: Handler, delivery: Delivery, settings: BusSettings) -> None:
    pause = settings.unavailable_first_pause
    give_up_at = time.monotonic() + settings.unavailable_hold
    while True:
        try:
            await handler(delivery)
            return
        except Exception as exc:
            if not is_unavailable(exc) or time.monotonic() + pause > give_up_at:
                raise
            log.warning(
                "handler_waits_for_server",
                queue=delivery.queue,
                message_id=delivery.message.message_id,
                error_type=type(exc).__name__,
                retry_in=pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, settings.unavailable_max_pause)


class PublishError(RuntimeError):
    """Raised when the broker did not confirm a message (nack, return, timeout, lost link)."""


class ReplayError(RuntimeError):
    """Raised when the audit stream cannot be replayed (audit off, no stream, lost link)."""


def replay_cutoff(settings: BusSettings, until: datetime | None) -> datetime:
    """The stamp after which ``replay_audit`` stops: ``until``, or now plus the clock skew."""
    if until is not None:
        return until
    return datetime.now(UTC) + timedelta(seconds=settings.audit_replay_clock_skew)


def matches_any(patterns: Sequence[str], routing_key: str) -> bool:
    return any(topic_matches(p, routing_key) for p in patterns)


async def deliver_replayed(handler: Handler, message: Message, settings: BusSettings) -> None:
    """Hand one message of the audit stream to a replay's handler (riding out an outage
    like a live delivery); any other failure is logged and raised."""
    delivery = Delivery(message, settings.audit_stream, delivery_count=0, redelivered=False)
    try:
        await handle_riding_out(handler, delivery, settings)
    except Exception as exc:
        log.error(
            "audit_replay_failed",
            stream=settings.audit_stream,
            message_id=message.message_id,
            type=message.type,
            error=type(exc).__name__,
            exc_info=exc,
        )
        raise


class Subscription(Protocol):
    async def cancel(self) -> None: ...


class Bus(Protocol):
    settings: BusSettings

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, messages: Sequence[Message]) -> None: ...

    async def declare_queue(self, queue: str, routing_keys: Sequence[str]) -> None: ...

    async def subscribe(
        self, queue: str, routing_keys: Sequence[str], handler: Handler
    ) -> Subscription: ...

    async def dead_letters(self, queue: str) -> list[Message]:
        """Drain and return the messages in ``<queue>.dlq`` (operators and tests)."""
        ...

    async def dead_letter_count(self, queue: str) -> int:
        """How many messages wait in ``<queue>.dlq`` (0 when it was never declared)."""
        ...

    async def is_healthy(self) -> bool: ...

    async def replay_audit(
        self, routing_keys: Sequence[str], handler: Handler, *, until: datetime | None = None
    ) -> int:
        """Deliver to ``handler`` every message of the audit stream whose routing key
        matches one of ``routing_keys`` (topic patterns, as ``subscribe``), oldest first,
        one at a time, from the stream's first message up to the call; returns how many.

        Stops at the first message stamped after ``until`` (default: the call's moment
        plus ``audit_replay_clock_skew``) or, on RabbitMQ, once the stream delivered
        nothing for ``audit_replay_idle`` seconds, whichever comes first. Messages
        published after the call may or may not come: declare the live queues before
        replaying. A handler's failure is logged and raised (the rest is not replayed);
        ``ReplayError`` when ``settings.audit`` is off or the stream is out of reach.
        """
        ...


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


DLQ_MESSAGES = Gauge("pbx_dlq_messages", "Messages waiting in a dead-letter queue", ["queue"])


async def refresh_dead_letter_gauge(bus: Bus, queues: Sequence[str]) -> dict[str, int]:
    """Count each queue's ``<queue>.dlq`` into ``pbx_dlq_messages``; returns the counts."""
    counts: dict[str, int] = {}
    for queue in queues:
        counts[queue] = await bus.dead_letter_count(queue)
        DLQ_MESSAGES.labels(queue).set(counts[queue])
    return counts


@lru_cache(maxsize=1024)
def _topic_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for word in pattern.split("."):
        if word == "#":
            parts.append(r"(?:[^.]+(?:\.[^.]+)*)?")
        elif word == "*":
            parts.append(r"[^.]+")
        else:
            parts.append(re.escape(word))
    regex = r"\.".join(parts)
    # '#' may also swallow its neighbouring dot
    regex = regex.replace(r"\.(?:[^.]+(?:\.[^.]+)*)?", r"(?:\.[^.]+)*")
    regex = regex.replace(r"(?:[^.]+(?:\.[^.]+)*)?\.", r"(?:[^.]+\.)*")
    return re.compile(rf"\A{regex}\Z")


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more words."""
    return _topic_regex(pattern).match(routing_key) is not None
