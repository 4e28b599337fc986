"""One service skeleton: a declarative ``Service`` and the one function that builds it.

A service says what it is — its name, routers, application factory, the mapping of its
domain events to integration events, its consumer routes — and, in ``setup``, what is
its own (read models, log followers, periodic jobs). ``Service.build(infra)`` does the
rest the same way for every service, in this order at start:

1. the application (in a worker thread: the event store is synchronous);
2. token verification, the outbox relay, the edge (readiness, idempotency store, ended
   sessions, pool);
3. the service's own ``setup`` (read models caught up before serving);
4. the consumers, last: a message is handled only by a service that is ready.

and at stop (``pbx_kit.host``): loops cancelled, then consumers, then the pool and the
application.

Consumer routes are data: ``{queue: {Contract: handler}}``. A handler builds a command
from the message and calls the application method the HTTP route calls too; what that
method saves is collected (``pbx_events.store.deferred_saves``) and recorded by the inbox
with the message's tracking record, in one transaction (exactly once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import asyncpg
import structlog
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from pbx_events.bus import Bus, Delivery, Handler, Subscription, refresh_dead_letter_gauge
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.inbox import Decide, Inbox
from pbx_events.relay import EventMapping, OutboxRelay
from pbx_events.store import ServiceApplication, deferred_saves
from pbx_kit.app import Edge, create_app
from pbx_kit.auth import TokenVerifier, install_auth
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.wiring import wire_edge

log = structlog.get_logger("pbx.service")

App = TypeVar("App", bound=ServiceApplication)

#: one consumed message → a command to the application (its return value is not used)
MessageHandler = Callable[[App, Any, Message], object]
#: queue (without the prefix) → the contracts it takes → their handlers
ConsumerRoutes = Mapping[str, Mapping[type[IntegrationEvent], MessageHandler[App]]]


@dataclass
class Running(Generic[App]):
    """A service while it starts: what ``setup`` may use and add to."""

    infra: Infrastructure
    runtime: ServiceRuntime
    edge: Edge
    application: App
    relay: OutboxRelay
    #: the service's asyncpg pool (None on the in-memory store)
    pool: asyncpg.Pool | None

    @property
    def api(self) -> FastAPI:
        return self.runtime.api

    def loop(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run a long-lived coroutine (a log follower, a sender) while the service runs."""
        self.runtime.loops.append(run)

    def every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run a periodic job; a failure is logged and the next round runs as planned."""

        async def periodic() -> None:
            while True:
                try:
                    await job()
                except Exception as exc:
                    log.warning("periodic_job_failed", job=name, error=repr(exc))
                await asyncio.sleep(seconds)

        periodic.__qualname__ = name
        self.runtime.loops.append(periodic)


@dataclass
class Service(Generic[App]):
    """What a service is; ``build(infra)`` makes its runtime the same way for all."""

    name: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    #: the application on this infrastructure (called in a worker thread)
    application: Callable[[Infrastructure], App]
    #: the relay's mapping for this application (its domain → integration events)
    mapping: Callable[[App], EventMapping]
    consumers: ConsumerRoutes[App] = field(default_factory=dict)
    #: the service's own parts: read models, followers, periodic jobs, app.state entries
    setup: Callable[[Running[App]], Awaitable[None]] | None = None
    #: how this service verifies tokens (default: the infrastructure's verifier)
    verifier: Callable[[Infrastructure, App], TokenVerifier] | None = None
    documented_models: Sequence[type[BaseModel]] = ()
    #: the largest request body (default: the settings' limit)
    max_body_bytes: int | None = None
    #: replay the audit stream into the consumers before consuming, so a service started
    #: after others published (its queues did not exist yet) still sees everything
    catch_up_from_audit: bool = False

    def build(self, infra: Infrastructure) -> ServiceRuntime:
        edge = Edge()
        web = create_app(
            self.name,
            title=self.title,
            description=self.description,
            routers=self.routers,
            max_body_bytes=self.max_body_bytes or infra.settings.max_body_bytes,
            edge=edge,
            documented_models=self.documented_models,
        )
        runtime = ServiceRuntime(self.name, web)

        async def start() -> None:
            # replicas starting together create the schema and tables one at a time
            # (CREATE … IF NOT EXISTS is not safe against a concurrent twin)
            async with setting_up(infra.database_url, self.name):
                application = await anyio.to_thread.run_sync(self.application, infra)
                web.state.application = application
                verifier = self.verifier(infra, application) if self.verifier else None
                install_auth(web, verifier or infra.token_verifier())
                relay = OutboxRelay(application, self.name, self.mapping(application), infra.bus)
                web.state.relay = relay
                runtime.loops.append(relay.run)
                pool = await wire_edge(infra, runtime, edge, application, relay)
                if self.setup is not None:
                    await self.setup(Running(infra, runtime, edge, application, relay, pool))
            if self.catch_up_from_audit and self.consumers:
                await catch_up_from_audit(
                    infra.bus, application, self.consumers, infra.settings.queue_prefix
                )
            subscriptions = await subscribe_routes(
                infra.bus, application, self.consumers, infra.settings.queue_prefix
            )
            queues = [infra.settings.queue_prefix + queue for queue in self.consumers]

            async def dead_letters() -> tuple[bool, dict[str, int]]:
                """Per consumer queue, the messages in its DLQ (also ``pbx_dlq_messages``,
                refreshed whenever /readyz or /metrics is read)."""
                return True, await refresh_dead_letter_gauge(infra.bus, queues)

            if queues:
                edge.figures["dead_letters"] = dead_letters

            async def stop_consuming() -> None:
                for subscription in subscriptions:
                    await subscription.cancel()

            # first: no delivery reaches an application being closed
            runtime.on_stop.insert(0, stop_consuming)

        runtime.on_start.append(start)
        return runtime


@contextlib.asynccontextmanager
async def setting_up(database_url: str | None, service: str) -> AsyncIterator[None]:
    """Hold the service's start-up lock (a PostgreSQL advisory lock) while it creates its
    schema, tables and read models; nothing to hold on the in-memory store."""
    if not database_url:
        yield
        return
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", f"pbx-setup:{service}")
        yield
    finally:
        with contextlib.suppress(Exception):
            await connection.execute(
                "SELECT pg_advisory_unlock(hashtext($1))", f"pbx-setup:{service}"
            )
        await connection.close()


def decider(app: App, handlers: Mapping[type[IntegrationEvent], MessageHandler[App]]) -> Decide:
    """The inbox's decision for one queue: the message's handler, with what it saves
    collected for the inbox to record with the message's tracking."""
    by_type = {contract.type_name(): handler for contract, handler in handlers.items()}

    def decide(event: IntegrationEvent, message: Message) -> Sequence[Any]:
        handler = by_type.get(message.type)
        if handler is None:  # bound by mistake: acknowledged, nothing to do
            log.warning("message_without_route", type=message.type)
            return []
        with deferred_saves() as saved:
            handler(app, event, message)
        return saved

    return decide


async def catch_up_from_audit(
    bus: Bus, app: App, routes: ConsumerRoutes[App], prefix: str = ""
) -> int:
    """What was published before this service's queues existed, from the audit stream.

    The live queues are declared first (what is published from now on waits there), then
    the audit is replayed into each queue's inbox (the same tracking as a live delivery,
    so a message seen both ways takes effect once); the consumers start after. Returns how
    many messages were replayed (most are duplicates the inbox skips on a restart)."""
    by_type: dict[str, Handler] = {}
    for queue, handlers in routes.items():
        keys = [contract.type_name() for contract in handlers]
        await bus.declare_queue(prefix + queue, keys)
        handler = Inbox(app, queue).handler(decider(app, handlers))
        for key in keys:
            by_type[key] = handler

    async def replayed(delivery: Delivery) -> None:
        await by_type[delivery.message.type](delivery)

    count = await bus.replay_audit(list(by_type), replayed)
    log.info("caught_up_from_audit", service=type(app).name, replayed=count)
    return count


async def subscribe_routes(
    bus: Bus, app: App, routes: ConsumerRoutes[App], prefix: str = ""
) -> list[Subscription]:
    """Consume each queue of ``routes`` (``prefix`` + name) through its own inbox."""
    subscriptions: list[Subscription] = []
    for queue, handlers in routes.items():
        keys = [contract.type_name() for contract in handlers]
        inbox = Inbox(app, queue)
        subscriptions.append(
            await bus.subscribe(prefix + queue, keys, inbox.handler(decider(app, handlers)))
        )
    return subscriptions
