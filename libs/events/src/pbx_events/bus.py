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
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
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
