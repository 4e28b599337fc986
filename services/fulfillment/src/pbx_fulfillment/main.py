"""The fulfillment service: what it is, for ``pbx_kit.service`` to build."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
from prometheus_client import Gauge

from pbx_events.fulfillment import WAREHOUSE_MESSAGES, WAREHOUSE_QUEUE
from pbx_fulfillment import api
from pbx_fulfillment.application import (
    PAYMENT_TIMEOUT,
    REFUND_TIMEOUT,
    FulfillmentService,
    utc_now,
)
from pbx_fulfillment.consumers import ROUTES
from pbx_fulfillment.integration import FulfillmentMapping
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Running, Service

SERVICE = "fulfillment"
#: how often the durable timer looks for orders past their payment or refund deadline
TIMER_INTERVAL = 10.0
INCIDENTS = Gauge(
    "pbx_fulfillment_incidents",
    "Compensations that failed (refund_overdue, dispatched_after_cancel), from the store",
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
        app = service.application
        # the warehouse's queue exists before the first shipment is published
        await service.infra.bus.declare_queue(
            service.infra.settings.queue_prefix + WAREHOUSE_QUEUE,
            [cls.type_name() for cls in WAREHOUSE_MESSAGES],
        )

        async def run_timers() -> list[bool]:
            """One round of the durable timers: the deadlines are stored on each order, so
            they survive restarts; a repeat or a second replica changes nothing (an Order
            times out once, an overdue refund is one incident)."""
            fired: list[bool] = []
            for order_id in await anyio.to_thread.run_sync(app.awaiting_payment):
                fired.append(await anyio.to_thread.run_sync(app.time_out, order_id))
            for order_id in await anyio.to_thread.run_sync(app.refunds_pending):
                fired.append(await anyio.to_thread.run_sync(app.refund_overdue, order_id))
            return fired

        async def incidents() -> tuple[bool, dict[str, int]]:
            """Incidents recorded, per kind (also the ``pbx_fulfillment_incidents`` gauge)."""
            found = await anyio.to_thread.run_sync(app.incidents)
            kinds = Counter(incident["kind"] for _, incident in found)
            for kind in ("refund_overdue", "dispatched_after_cancel"):
                INCIDENTS.labels(kind=kind).set(kinds.get(kind, 0))
            return True, dict(kinds)

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
