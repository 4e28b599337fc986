"""The fulfillment service: what it is, for ``pbx_kit.service`` to build."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
from prometheus_client import Gauge

from pbx_events.fulfillment import WAREHOUSE_MESSAGES, WAREHOUSE_QUEUE
from pbx_events.relay import FollowerSettings
from pbx_fulfillment import api
from pbx_fulfillment.application import (
    PAYMENT_TIMEOUT,
    REFUND_TIMEOUT,
    FulfillmentService,
    utc_now,
)
from pbx_fulfillment.consumers import ROUTES
from pbx_fulfillment.integration import FulfillmentMapping
from pbx_fulfillment.projections import OrderProjection
from pbx_fulfillment.read_model import MemoryOrderStore, OrderStore, PostgresOrderStore
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Running, Service

SERVICE = "fulfillment"
#: how often the durable timer looks for orders past their payment or refund deadline
TIMER_INTERVAL = 10.0
INCIDENTS = Gauge(
    "pbx_fulfillment_incidents",
    "Compensations that failed (refund_overdue, dispatched_after_cancel), from the read model",
    ["kind"],
)


def build(
    infra: Infrastructure,
    clock: Callable[[], datetime] = utc_now,
    payment_timeout: timedelta = PAYMENT_TIMEOUT,
    refund_timeout: timedelta = REFUND_TIMEOUT,
) -> ServiceRuntime:
    def application(infra: Infrastructure) -> FulfillmentService:
        return FulfillmentService(
            infra.eventsourcing_env(SERVICE),
            clock=clock,
            payment_timeout=payment_timeout,
            refund_timeout=refund_timeout,
        )

    async def setup(service: Running[FulfillmentService]) -> None:
        """The warehouse's queue, the order read model caught up before serving (from where
        it got to), the timers."""
        app = service.application
        # the warehouse's queue exists before the first shipment is published
        await service.infra.bus.declare_queue(
            service.infra.settings.queue_prefix + WAREHOUSE_QUEUE,
            [cls.type_name() for cls in WAREHOUSE_MESSAGES],
        )

        pool = service.pool
        store: OrderStore = MemoryOrderStore() if pool is None else PostgresOrderStore(pool)
        await store.setup()
        projection = OrderProjection(app, store, FollowerSettings(batch_size=500))
        await projection.start()
        await projection.drain()
        service.api.state.order_store = store
        service.api.state.order_projection = projection
        service.loop(projection.run)

        async def run_timers() -> list[bool]:
            """One round of the durable timers: the deadlines are stored on each order, so
            they survive restarts; the candidates come from the read model (past their
            deadline), each decided on the order itself (a stale row changes nothing); a
            repeat or a second replica changes nothing (an Order times out once, an overdue
            refund is one incident)."""
            fired: list[bool] = []
            for order_id in await store.awaiting_payment(app.clock()):
                fired.append(await anyio.to_thread.run_sync(app.time_out, order_id))
            for order_id in await store.refunds_due(app.clock()):
                fired.append(await anyio.to_thread.run_sync(app.refund_overdue, order_id))
            return fired

        async def incidents() -> tuple[bool, dict[str, int]]:
            """Incidents recorded, per kind (also the ``pbx_fulfillment_incidents`` gauge)."""
            kinds = await store.incident_counts()
            for kind in ("refund_overdue", "dispatched_after_cancel"):
                INCIDENTS.labels(kind=kind).set(kinds.get(kind, 0))
            return True, kinds

        service.edge.figures["incidents"] = incidents
        service.api.state.run_timers = run_timers
        service.every(TIMER_INTERVAL, run_timers, "fulfillment_timers")

    fulfillment = Service[FulfillmentService](
        name=SERVICE,
        title="Fulfillment — クラウドPBX",
        description="Orders: the checkout saga (注文), cancellation before dispatch, the "
        "warehouse's shipments and reports, incidents. Errors are RFC 9457 problem+json.",
        routers=[api.router],
        application=application,
        mapping=FulfillmentMapping,
        consumers=ROUTES,
        setup=setup,
        catch_up_from_audit=True,
    )
    return fulfillment.build(infra)
