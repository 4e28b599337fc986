"""The RabbitMQ bus (``PBX_AMQP_URL=amqp://…``) on aio-pika, with the in-process bus's semantics.

Topology: a durable topic exchange, a durable direct dead-letter exchange, and per
consumer queue a quorum queue with a delivery limit that dead-letters
(at-least-once) to ``<queue>.dlq``. An optional audit stream bound to ``#`` keeps
the history and makes every message routable.

What aio-pika 10.2 / aiormq 7.2 do (read in their source, relied upon here):

- aiormq runs every delivery as its own task (``Channel._on_deliver_frame``) and
  aio-pika's ``queue.consumer`` runs the callback in one more task, so a slow or
  failing message does not hold up the ones behind it; prefetch bounds them.
- Closing a channel (also by a lost connection) cancels those tasks; the broker
  requeues their unacked messages and counts a delivery.
- ``RobustConnection`` reconnects and ``RobustChannel`` reopens, restores QoS,
  re-declares its exchanges and queues with their bindings and re-consumes with
  the same tag and callback. It holds channels in a WeakSet: keep them referenced.
- A publish on a reconnecting robust channel waits for the connection: check first.
- Unroutable mandatory messages are matched to their publish by ``message_id``: two
  in-flight publishes with the same id would be confused, so they are serialized.
- The audit replay consumes the stream with ``x-stream-offset: first`` on a channel
  of its own (a stream consumer needs a prefetch and must ack to get more). Its
  queue object is not robust, so a reconnect does not restart it from the first
  offset behind the replay's back: a closed channel, or a consumer the broker
  cancelled (stream deleted), makes the replay raise rather than end quietly.
  ``message.process()`` is not used (it rejects without requeue on error): acks are
  explicit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from aio_pika import DeliveryMode, ExchangeType
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from pydantic import ValidationError

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
)
from pbx_events.envelope import Message

log = structlog.get_logger("pbx.bus.amqp")

AUDIT_MAX_AGE = "90D"
AUDIT_MAX_LENGTH_BYTES = 5_000_000_000
#: how long ``Subscription.cancel`` lets in-flight handlers finish before closing
SHUTDOWN_GRACE = 5.0
_RPC_TIMEOUT = 10.0


#: the exchange messages are published to (``BusSettings.exchange``), durable
EXCHANGE_TYPE = ExchangeType.TOPIC
#: the dead-letter exchange (``BusSettings.dead_letter_exchange``), durable: each DLQ is
#: bound to it with its own name as the key
DEAD_LETTER_EXCHANGE_TYPE = ExchangeType.DIRECT


def queue_arguments(settings: BusSettings, queue: str) -> dict[str, Any]:
    """A consumer queue: quorum, bounded deliveries, then dead-lettered to ``<queue>.dlq``."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": settings.dead_letter_exchange,
        "x-dead-letter-routing-key": dlq_name(queue),
        # the message stays in the queue until the DLQ has it (at-most-once would drop it)
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


#: The end of the line, drained by ``dead_letters`` (basic.get + ack). No delivery
#: limit on purpose: RabbitMQ 3.10 would drop a parked message past it (no DLX), and
#: a DLX leading back to this queue is a cycle the broker refuses (the message is stuck).
DLQ_ARGUMENTS: dict[str, Any] = {"x-queue-type": "quorum"}

#: The audit stream (``BusSettings.audit_stream``, bound to ``#``): the whole history,
#: kept for a while and up to a size.
AUDIT_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "stream",
    "x-max-age": AUDIT_MAX_AGE,
    "x-max-length-bytes": AUDIT_MAX_LENGTH_BYTES,
}


async def _within(action: Awaitable[Any], seconds: float) -> None:
    """Wait for a close at most ``seconds``, then leave it behind.

    Not ``wait_for``: on a timeout it cancels and then waits for the cancellation,
    which never ends when the library shields its close (seen while the broker
    force-closes connections during a shutdown).
    """
    task = asyncio.ensure_future(action)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.warning("close_abandoned", after_seconds=seconds)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return
    task.result()


def _rounds(messages: Sequence[Message]) -> list[list[Message]]:
    """Split messages so that no round holds two with the same id (usually one round)."""
    rounds: list[list[Message]] = []
    placed: list[set[str]] = []
    for message in messages:
        for ids, part in zip(placed, rounds, strict=True):
            if message.message_id not in ids:
                ids.add(message.message_id)
                part.append(message)
                break
        else:
            placed.append({message.message_id})
            rounds.append([message])
    return rounds


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _delivery_count(headers: dict[str, Any]) -> int:
    value = headers.get("x-delivery-count")
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if isinstance(value, str | bytes) and value.isdigit():
        return int(value)
    return 0


def _original_routing_key(headers: dict[str, Any]) -> str | None:
    """The key a dead letter was first published with (the oldest ``x-death`` entry)."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
        keys = deaths[-1].get("routing-keys")
        if isinstance(keys, list) and keys:
            return str(_plain(keys[0]))
    return None


def from_delivery(incoming: AbstractIncomingMessage, routing_key: str | None = None) -> Message:
    """The envelope back from a delivery; broker bookkeeping (``x-…`` headers) is dropped."""
    headers = {k: _plain(v) for k, v in (incoming.headers or {}).items() if not k.startswith("x-")}
    return Message(
        routing_key=routing_key or incoming.routing_key or "",
        body=incoming.body,
        message_id=incoming.message_id or "",
        type=incoming.type or "",
        app_id=incoming.app_id or "",
        timestamp=incoming.timestamp or datetime.now(UTC),
        headers=headers,
        content_type=incoming.content_type or "",
    )


async def _settle(action: Awaitable[None], queue: str, message_id: str | None) -> None:
    try:
        await action
    except Exception as exc:
        # the channel closed meanwhile: the broker redelivers the message
        log.info("settle_failed", queue=queue, message_id=message_id, error=type(exc).__name__)


async def _still_consuming(channel: AbstractRobustChannel, consumer_tag: str) -> bool:
    """Whether the broker still delivers to this consumer (aiormq forgets a consumer
    the broker cancelled with basic.cancel)."""
    if channel.is_closed:
        return False
    try:
        async with asyncio.timeout(_RPC_TIMEOUT):
            underlay = await channel.get_underlay_channel()
    except Exception:
        return False
    # aiormq's Channel keeps its consumers by tag (not part of its abstract interface)
    consumers = getattr(underlay, "consumers", None)
    return not isinstance(consumers, dict) or consumer_tag in consumers


class AmqpSubscription:
    def __init__(self, channel: AbstractRobustChannel, queue: AbstractRobustQueue) -> None:
        self.channel = channel
        self.queue = queue
        self.consumer_tag = ""
        self.in_flight: set[asyncio.Task[Any]] = set()
        self._cancelled = False

    async def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        if not self.channel.is_closed:
            # RobustQueue.cancel forgets the consumer first, so it is not restored
            with contextlib.suppress(Exception):
                await _within(self.queue.cancel(self.consumer_tag), _RPC_TIMEOUT)
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=SHUTDOWN_GRACE)
        with contextlib.suppress(Exception):
            # bounded: a close never hangs a shutdown, whatever state the link is in
            await _within(self.channel.close(), _RPC_TIMEOUT)


class AmqpBus:
    def __init__(
        self, url: str, settings: BusSettings | None = None, *, connection_name: str | None = None
    ) -> None:
        self.settings = settings or BusSettings()
        self._url = url
        self._connection_name = connection_name or f"pbx-events pid={os.getpid()}"
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._topology_channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._queues: dict[str, AbstractRobustQueue] = {}
        self._subscriptions: list[AmqpSubscription] = []
        self._publishing: dict[str, asyncio.Event] = {}
        #: times the robust connection came back and restored channels, queues and consumers
        self.reconnects = 0

    async def connect(self) -> None:
        if self._connection is not None and not self._connection.is_closed:
            return
        s = self.settings
        connection = await aio_pika.connect_robust(
            self._url,
            heartbeat=s.heartbeat,
            client_properties={"connection_name": self._connection_name},
            # aio-pika waits this long before every reconnect attempt (default 5 s)
            reconnect_interval=s.reconnect_interval,
        )
        try:
            connection.reconnect_callbacks.add(self._on_reconnect)
            publish = connection.channel(publisher_confirms=True, on_return_raises=True)
            await publish.initialize()
            # exchanges live on the publishing channel: it re-declares them when reopened
            self._exchange = await publish.declare_exchange(s.exchange, EXCHANGE_TYPE, durable=True)
            await publish.declare_exchange(
                s.dead_letter_exchange, DEAD_LETTER_EXCHANGE_TYPE, durable=True
            )
            if s.audit:
                audit = await publish.declare_queue(
                    s.audit_stream, durable=True, arguments=AUDIT_ARGUMENTS
                )
                await audit.bind(s.exchange, "#")
            topology = connection.channel(publisher_confirms=False)
            await topology.initialize()
        except BaseException:
            await connection.close()
            raise
        self._connection, self._publish_channel, self._topology_channel = (
            connection,
            publish,
            topology,
        )
        log.info("connected", exchange=s.exchange, connection_name=self._connection_name)

    def _on_reconnect(self, *_: Any) -> None:
        self.reconnects += 1
        log.warning("reconnected", exchange=self.settings.exchange, reconnects=self.reconnects)

    async def close(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        await asyncio.gather(*(sub.cancel() for sub in subscriptions), return_exceptions=True)
        connection, self._connection = self._connection, None
        self._publish_channel = self._topology_channel = self._exchange = None
        self._queues.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await _within(connection.close(), _RPC_TIMEOUT)

    async def is_healthy(self) -> bool:
        connection, channel = self._connection, self._publish_channel
        return (
            connection is not None
            and not connection.is_closed
            and connection.connected.is_set()
            and channel is not None
            and not channel.is_closed
        )

    def _topology(self) -> AbstractRobustChannel:
        if self._topology_channel is None:
            raise RuntimeError("AmqpBus.connect() was not called")
        return self._topology_channel

    async def declare_queue(self, queue: str, routing_keys: Sequence[str]) -> None:
        s = self.settings
        await self._declare(
            dlq_name(queue), DLQ_ARGUMENTS, s.dead_letter_exchange, [dlq_name(queue)]
        )
        await self._declare(queue, queue_arguments(s, queue), s.exchange, routing_keys)

    async def _declare(
        self, name: str, arguments: dict[str, Any], exchange: str, keys: Sequence[str]
    ) -> None:
        # robust declarations (re-declared and re-bound after a reconnect), one object
        # per queue: the channel keeps every declared queue to restore it
        declared = self._queues.get(name)
        if declared is None:
            declared = await self._topology().declare_queue(name, durable=True, arguments=arguments)
            self._queues[name] = declared
        else:
            await declared.declare()
        for key in keys:
            await declared.bind(exchange, key)

    async def publish(self, messages: Sequence[Message]) -> None:
        connection, channel, exchange = self._connection, self._publish_channel, self._exchange
        if (
            connection is None
            or exchange is None
            or channel is None
            or connection.is_closed
            or not connection.connected.is_set()
            or channel.is_closed
        ):
            raise PublishError("bus is not connected (or is reconnecting)")
        try:
            # one deadline for the whole batch: nack -> DeliveryError, unroutable ->
            # aiormq PublishError, lost link -> connection errors, or the timeout
            async with asyncio.timeout(self.settings.confirm_timeout):
                results: list[BaseException | None] = []
                for part in _rounds(messages):
                    results.extend(await self._publish_round(exchange, part))
        except TimeoutError as exc:
            log.warning("publish_timeout", total=len(messages))
            raise PublishError(
                f"{len(messages)} messages not confirmed within {self.settings.confirm_timeout}s"
            ) from exc
        order = [m for part in _rounds(messages) for m in part]
        failed = [(m, r) for m, r in zip(order, results, strict=True) if r is not None]
        if failed:
            message, first = failed[0]
            log.warning(
                "publish_failed",
                failed=len(failed),
                total=len(messages),
                message_id=message.message_id,
                routing_key=message.routing_key,
                error=type(first).__name__,
            )
            raise PublishError(
                f"{len(failed)} of {len(messages)} messages not confirmed "
                f"(first: {type(first).__name__}: {first})"
            ) from first

    async def _publish_round(
        self, exchange: AbstractExchange, messages: Sequence[Message]
    ) -> list[BaseException | None]:
        """Publish messages with distinct ids, all in flight at once.

        aiormq matches a returned (unroutable) message to its publish by
        ``message_id``, so a message is never in flight beside another with the
        same id, not even from a concurrent ``publish`` call.
        """
        ids = [m.message_id for m in messages]
        while busy := [self._publishing[i] for i in ids if i in self._publishing]:
            await busy[0].wait()
        done = asyncio.Event()
        for message_id in ids:
            self._publishing[message_id] = done
        try:
            return list(
                await asyncio.gather(
                    *(self._publish_one(exchange, m) for m in messages), return_exceptions=True
                )
            )
        finally:
            for message_id in ids:
                self._publishing.pop(message_id, None)
            done.set()

    async def _publish_one(self, exchange: AbstractExchange, message: Message) -> None:
        amqp_message = aio_pika.Message(
            message.body,
            headers=message.headers,
            content_type=message.content_type,
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            timestamp=message.timestamp,
            type=message.type,
            app_id=message.app_id,
        )
        await exchange.publish(amqp_message, message.routing_key, mandatory=True)

    async def subscribe(
        self, queue: str, routing_keys: Sequence[str], handler: Handler
    ) -> AmqpSubscription:
        await self.declare_queue(queue, routing_keys)
        if self._connection is None:
            raise RuntimeError("AmqpBus.connect() was not called")
        channel = self._connection.channel(publisher_confirms=False)
        await channel.initialize()
        try:
            await channel.set_qos(prefetch_count=self.settings.prefetch)
            # declared on this channel too, so its restore re-declares it before consuming
            amqp_queue = await channel.declare_queue(
                queue, durable=True, arguments=queue_arguments(self.settings, queue)
            )
            subscription = AmqpSubscription(channel, amqp_queue)

            async def on_message(incoming: AbstractIncomingMessage) -> None:
                task = asyncio.current_task()
                if task is not None:
                    subscription.in_flight.add(task)
                try:
                    await self._handle(queue, handler, incoming)
                finally:
                    if task is not None:
                        subscription.in_flight.discard(task)

            subscription.consumer_tag = await amqp_queue.consume(on_message, no_ack=False)
        except BaseException:
            await channel.close()
            raise
        self._subscriptions.append(subscription)
        log.info("subscribed", queue=queue, routing_keys=list(routing_keys))
        return subscription

    async def _handle(
        self, queue: str, handler: Handler, incoming: AbstractIncomingMessage
    ) -> None:
        count = _delivery_count(incoming.headers or {})
        try:
            message = from_delivery(incoming)
            delivery = Delivery(message, queue, count, bool(incoming.redelivered))
            await handle_riding_out(handler, delivery, self.settings)
        except Exception as exc:
            self._log_failure(queue, incoming, count, exc)
            await asyncio.sleep(self.settings.retry_delay(count))
            # requeue: the quorum queue counts it and dead-letters it past the limit
            await _settle(incoming.nack(requeue=True), queue, incoming.message_id)
        else:
            await _settle(incoming.ack(), queue, incoming.message_id)

    def _log_failure(
        self, queue: str, incoming: AbstractIncomingMessage, count: int, exc: Exception
    ) -> None:
        # never the body: it may carry personal data (so no pydantic input values either)
        fields: dict[str, Any] = {
            "queue": queue,
            "message_id": incoming.message_id,
            "type": incoming.type,
            "delivery_count": count,
            "error": type(exc).__name__,
        }
        if isinstance(exc, ValidationError):
            fields["errors"] = exc.errors(include_url=False, include_input=False)
        else:
            fields["exc_info"] = exc
        log.warning("handler_failed", **fields)
        if count >= self.settings.delivery_limit:
            log.error("dead_lettered", queue=queue, message_id=incoming.message_id)

    async def dead_letter_count(self, queue: str) -> int:
        if self._connection is None:
            raise RuntimeError("AmqpBus.connect() was not called")
        # its own channel: a passive declare of a missing queue closes the channel
        channel = self._connection.channel(publisher_confirms=False)
        await channel.initialize()
        try:
            dlq = await channel.declare_queue(dlq_name(queue), passive=True, robust=False)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return 0
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        return int(dlq.declaration_result.message_count or 0)

    async def dead_letters(self, queue: str) -> list[Message]:
        if self._connection is None:
            raise RuntimeError("AmqpBus.connect() was not called")
        channel = self._connection.channel(publisher_confirms=False)
        await channel.initialize()
        drained: list[Message] = []
        try:
            dlq = await channel.declare_queue(
                dlq_name(queue), durable=True, arguments=DLQ_ARGUMENTS, robust=False
            )
            while (incoming := await dlq.get(no_ack=False, fail=False)) is not None:
                headers = incoming.headers or {}
                drained.append(from_delivery(incoming, _original_routing_key(headers)))
                log.info(
                    "dead_letter_drained",
                    queue=queue,
                    message_id=incoming.message_id,
                    reason=_plain(headers.get("x-first-death-reason")),
                )
                await incoming.ack()
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        return drained

    async def replay_audit(
        self, routing_keys: Sequence[str], handler: Handler, *, until: datetime | None = None
    ) -> int:
        """Read the audit stream from its first offset; see ``Bus.replay_audit``.

        Stop rule (a stream never ends): the first message whose AMQP ``timestamp``
        (set by ``publish``, one-second resolution) is later than the cutoff (``until``,
        default the call plus ``audit_replay_clock_skew``) is not delivered and ends the
        replay; so does ``audit_replay_idle`` seconds without a delivery (caught up with
        a quiet stream). Whichever comes first. A message without a timestamp never
        stops it.
        """
        s = self.settings
        if not s.audit:
            raise ReplayError(f"no audit stream to replay: audit is off ({s.exchange})")
        if self._connection is None:
            raise RuntimeError("AmqpBus.connect() was not called")
        cutoff = replay_cutoff(s, until)
        arrivals: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()

        def on_close(*_: Any) -> None:
            arrivals.put_nowait(None)

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            arrivals.put_nowait(incoming)

        channel = self._connection.channel(publisher_confirms=False)
        await channel.initialize()
        channel.close_callbacks.add(on_close)
        stream: aio_pika.abc.AbstractQueue | None = None
        consumer_tag = ""
        delivered = seen = 0
        stopped_by = "idle"
        try:
            await channel.set_qos(prefetch_count=s.audit_replay_prefetch)
            try:
                stream = await channel.declare_queue(s.audit_stream, passive=True, robust=False)
            except aio_pika.exceptions.ChannelNotFoundEntity as exc:
                raise ReplayError(f"the audit stream {s.audit_stream} does not exist") from exc
            consumer_tag = await stream.consume(
                on_message, no_ack=False, arguments={"x-stream-offset": "first"}
            )
            while True:
                try:
                    incoming = await asyncio.wait_for(arrivals.get(), s.audit_replay_idle)
                except TimeoutError:
                    if not await _still_consuming(channel, consumer_tag):
                        # the broker cancelled the consumer (stream deleted, its leader
                        # moved): quiet is then no proof that history is over
                        raise ReplayError(
                            f"the broker cancelled the replay of {s.audit_stream}"
                        ) from None
                    break
                if incoming is None:
                    raise ReplayError(f"the channel replaying {s.audit_stream} closed")
                if incoming.timestamp is not None and incoming.timestamp > cutoff:
                    stopped_by = "cutoff"
                    break
                seen += 1
                message = from_delivery(incoming)
                if matches_any(routing_keys, message.routing_key):
                    await deliver_replayed(handler, message, s)
                    delivered += 1
                try:
                    await incoming.ack()
                except Exception as exc:
                    raise ReplayError(f"the channel replaying {s.audit_stream} closed") from exc
        finally:
            channel.close_callbacks.discard(on_close)
            if stream is not None and consumer_tag and not channel.is_closed:
                with contextlib.suppress(Exception):
                    await _within(stream.cancel(consumer_tag), _RPC_TIMEOUT)
            with contextlib.suppress(Exception):
                await _within(channel.close(), _RPC_TIMEOUT)
        log.info(
            "audit_replayed",
            routing_keys=list(routing_keys),
            delivered=delivered,
            seen=seen,
            stopped_by=stopped_by,
        )
        return delivered
