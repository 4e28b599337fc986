"""The Order after payment: for each path (a device order shipped, a service order, a
cancellation item, the warehouse's reports, the customer's cancellation) the exact events;
the refunds and their deadline; then any sequence of reports, cancellations and the
wallet's answers keeps the money and the shipment consistent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_fulfillment.domain.order import (
    AlreadyDispatchedError,
    NotCancellableError,
    Order,
    ShipmentCancelledError,
    ShipmentNotDispatchedError,
)
from pbx_fulfillment.domain.plan import Plan, plan_order, service_id_of, shipment_id_of
from pbx_fulfillment.testing import ADDRESS, a_line, a_request
from pbx_kit.errors import ConflictError

NOW = datetime(2024, 9, 8, 1, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=5)
DUE = NOW + timedelta(minutes=15)
CIRCLE = str(uuid.uuid4())
UNIQUE_IN_USE = str(uuid.uuid4())


def device_lines() -> list[dict[str, Any]]:
    return [
        a_line(1, "one_time", "SPA-504G", 2, circle_id=CIRCLE, unique_id=UNIQUE_IN_USE),
        a_line(2, "shipping", "SHIPPING-JP"),
    ]


def awaiting(lines: list[dict[str, Any]], address: dict[str, Any] | None = ADDRESS) -> Order:
    request = a_request(lines, address, NOW)
    order = Order(uuid.UUID(request["checkout_id"]), uuid.UUID(request["account_id"]), request)
    order.ask_for_payment(DEADLINE)
    return order


def pay(order: Order, services: dict[str, dict[str, str]] | None = None) -> Plan:
    plan = plan_order(order.id, order.request["lines"], services or {})
    order.debited(order.total, plan, DUE)
    return plan


def placed_device_order() -> Order:
    order = awaiting(device_lines())
    pay(order)
    return order


def names(order: Order) -> list[str]:
    return [type(e).__name__ for e in order.collect_events()]


# -- a device order: placed, dispatched, delivered ---------------------------------------


def test_a_device_order_is_placed_with_one_requested_shipment_of_its_devices() -> None:
    order = awaiting(device_lines())
    pay(order)
    assert names(order) == ["Requested", "DebitRequested", "Placed"]
    assert (order.status, order.debited_amount, order.refunded) == ("placed", 3_300, 0)
    assert order.shipment is not None
    assert order.shipment["shipment_id"] == str(shipment_id_of(order.id))
    assert (order.shipment["status"], order.shipment["carrier"]) == ("requested", None)
    assert [item["sku"] for item in order.shipment["items"]] == ["SPA-504G"]
    assert (order.activations, order.cancellations) == ([], [])
    assert not order.dispatched


def test_a_dispatch_report_records_the_carrier_and_tracking_number() -> None:
    order = placed_device_order()
    order.collect_events()
    assert order.dispatch("yamato", "1234-5678-9012") == "dispatched"
    assert names(order) == ["ShipmentDispatched"]
    assert order.shipment is not None
    assert (
        order.shipment["status"],
        order.shipment["carrier"],
        order.shipment["tracking_number"],
    ) == ("dispatched", "yamato", "1234-5678-9012")
    assert order.dispatched and order.status == "placed"


def test_a_delivery_report_completes_the_order() -> None:
    order = placed_device_order()
    order.dispatch("yamato", "1234-5678-9012")
    order.collect_events()
    assert order.deliver() == "delivered"
    assert names(order) == ["ShipmentDelivered", "Completed"]
    assert order.shipment is not None
    assert (order.status, order.shipment["status"]) == ("completed", "delivered")


def test_the_whole_device_path_has_exactly_these_events() -> None:
    order = placed_device_order()
    order.dispatch("yamato", "1")
    order.deliver()
    assert names(order) == [
        "Requested",
        "DebitRequested",
        "Placed",
        "ShipmentDispatched",
        "ShipmentDelivered",
        "Completed",
    ]


def test_repeated_dispatch_and_delivery_reports_change_nothing() -> None:
    order = placed_device_order()
    order.dispatch("yamato", "1")
    assert order.dispatch("yamato", "1") == "unchanged"
    assert order.dispatch("sagawa", "2") == "unchanged"  # the first report stands
    order.deliver()
    assert order.deliver() == "unchanged"
    assert order.dispatch("yamato", "1") == "unchanged"
    assert order.shipment is not None
    assert (order.shipment["carrier"], order.shipment["tracking_number"]) == ("yamato", "1")
    assert names(order) == [
        "Requested",
        "DebitRequested",
        "Placed",
        "ShipmentDispatched",
        "ShipmentDelivered",
        "Completed",
    ]


def test_a_delivery_before_the_dispatch_is_refused_and_records_nothing() -> None:
    order = placed_device_order()
    order.collect_events()
    with pytest.raises(ShipmentNotDispatchedError):
        order.deliver()
    assert names(order) == []
    assert order.shipment is not None
    assert (order.status, order.shipment["status"]) == ("placed", "requested")


# -- a service order ------------------------------------------------------------------


def test_a_service_only_order_completes_at_once_with_a_service_per_quantity() -> None:
    line = a_line(1, "monthly", "UNIQUE-STD", 3, circle_id=CIRCLE)
    order = awaiting([line], address=None)
    pay(order)
    assert names(order) == ["Requested", "DebitRequested", "Placed", "Completed"]
    assert (order.status, order.shipment, order.cancellations) == ("completed", None, [])
    assert [a["service_id"] for a in order.activations] == [
        str(service_id_of(order.id, 1, index)) for index in range(3)
    ]
    assert len({a["service_id"] for a in order.activations}) == 3
    assert {(a["kind"], a["circle_id"], a["sku"]) for a in order.activations} == {
        ("unique", CIRCLE, "UNIQUE-STD")
    }
    assert {a["product_id"] for a in order.activations} == {line["product_id"]}
    assert all(a["phone_number"] is None for a in order.activations)


def test_a_cancellation_item_ends_the_service_with_its_kind_and_circle() -> None:
    number = str(uuid.uuid4())
    other_circle = str(uuid.uuid4())
    order = awaiting([a_line(1, "cancellation", "CANCEL-NUMBER", service_id=number)], None)
    pay(order, {number: {"kind": "phone_number", "circle_id": other_circle}})
    assert names(order) == ["Requested", "DebitRequested", "Placed", "Completed"]
    assert order.cancellations == [
        {"service_id": number, "kind": "phone_number", "circle_id": other_circle}
    ]
    assert (order.activations, order.shipment, order.status) == ([], None, "completed")


def test_a_completed_service_order_cannot_be_cancelled() -> None:
    order = awaiting([a_line(1, "monthly", "UNIQUE-STD", circle_id=CIRCLE)], None)
    pay(order)
    order.collect_events()
    with pytest.raises(NotCancellableError):
        order.cancel(DUE)
    assert names(order) == []
    assert (order.status, order.refunded) == ("completed", 0)


# -- the customer's cancellation ----------------------------------------------------------


def test_a_cancellation_before_dispatch_calls_off_the_shipment_and_refunds_the_debit() -> None:
    order = placed_device_order()
    order.collect_events()
    order.cancel(DUE)
    assert names(order) == ["CancelledByCustomer"]
    assert order.shipment is not None
    assert (order.status, order.reason, order.shipment["status"]) == (
        "cancelled",
        "customer",
        "cancelled",
    )
    assert (order.refunded, order.refund_due_by) == (order.debited_amount, DUE)
    assert order.refunded == 3_300
    assert not order.dispatched


def test_a_cancellation_after_dispatch_is_refused_and_records_nothing() -> None:
    order = placed_device_order()
    order.dispatch("yamato", "1")
    order.collect_events()
    with pytest.raises(AlreadyDispatchedError):
        order.cancel(DUE)
    assert names(order) == []
    assert (order.status, order.refunded) == ("placed", 0)


def test_a_cancellation_after_delivery_is_refused() -> None:
    order = placed_device_order()
    order.dispatch("yamato", "1")
    order.deliver()
    with pytest.raises(AlreadyDispatchedError):
        order.cancel(DUE)
    assert (order.status, order.refunded) == ("completed", 0)


def test_a_dispatch_after_the_cancellation_is_one_incident_however_often_reported() -> None:
    order = placed_device_order()
    order.cancel(DUE)
    order.collect_events()
    assert order.dispatch("yamato", "1") == "after_cancel"
    assert order.dispatch("yamato", "1") == "after_cancel"
    assert order.dispatch("sagawa", "2") == "after_cancel"
    assert names(order) == ["Incident"]
    [incident] = order.incidents
    assert (incident["kind"], incident["amount"]) == ("dispatched_after_cancel", 3_300)
    assert uuid.UUID(incident["incident_id"])
    assert order.shipment is not None
    assert (order.status, order.shipment["status"]) == ("cancelled", "cancelled")


def test_a_cancelled_shipment_cannot_be_delivered() -> None:
    order = placed_device_order()
    order.cancel(DUE)
    order.dispatch("yamato", "1")
    order.collect_events()
    with pytest.raises(ShipmentCancelledError):
        order.deliver()
    assert names(order) == []
    assert order.status == "cancelled"


def test_an_order_without_a_shipment_refuses_warehouse_reports() -> None:
    order = awaiting([a_line(1, "monthly", "UNIQUE-STD", circle_id=CIRCLE)], None)
    pay(order)
    order.collect_events()
    with pytest.raises(ShipmentCancelledError):
        order.dispatch("yamato", "1")
    with pytest.raises(ShipmentCancelledError):
        order.deliver()
    assert names(order) == []


# -- refunds ------------------------------------------------------------------------------


def cancelled_device_order() -> Order:
    order = placed_device_order()
    order.cancel(DUE)
    order.collect_events()
    return order


def test_a_refund_is_pending_until_the_wallet_confirms_it_once() -> None:
    order = cancelled_device_order()
    assert order.refund_pending and not order.refund_confirmed
    order.confirm_refund()
    order.confirm_refund()  # redelivered WalletRefunded
    assert order.refund_confirmed and not order.refund_pending
    assert names(order) == ["RefundConfirmed"]


def test_a_refund_confirmation_without_a_refund_changes_nothing() -> None:
    order = placed_device_order()
    order.collect_events()
    order.confirm_refund()
    assert not order.refund_confirmed and not order.refund_pending
    assert names(order) == []


def test_an_unconfirmed_refund_becomes_one_incident_at_its_deadline() -> None:
    order = cancelled_device_order()
    assert order.refund_overdue(DUE - timedelta(seconds=1)) is False
    assert order.refund_pending
    assert order.refund_overdue(DUE) is True
    assert order.refund_overdue(DUE + timedelta(hours=1)) is False  # once
    assert names(order) == ["Incident"]
    [incident] = order.incidents
    assert (incident["kind"], incident["amount"]) == ("refund_overdue", 3_300)
    assert not order.refund_pending


def test_a_confirmed_refund_never_becomes_an_incident() -> None:
    order = cancelled_device_order()
    order.confirm_refund()
    order.collect_events()
    assert order.refund_overdue(DUE + timedelta(days=1)) is False
    assert (order.incidents, names(order)) == ([], [])


def test_an_order_without_a_refund_is_never_overdue() -> None:
    order = placed_device_order()
    order.collect_events()
    assert order.refund_overdue(DUE + timedelta(days=1)) is False
    assert not order.refund_pending
    assert names(order) == []


def test_a_late_debit_refund_has_the_same_deadline_and_incident() -> None:
    order = awaiting(device_lines())
    order.time_out(DEADLINE)
    pay(order)
    order.collect_events()
    assert order.refund_pending and order.refund_due_by == DUE
    assert order.refund_overdue(DUE) is True
    assert [(i["kind"], i["amount"]) for i in order.incidents] == [("refund_overdue", 3_300)]
    assert names(order) == ["Incident"]


def test_a_dispatch_incident_and_a_refund_incident_are_two_different_incidents() -> None:
    order = cancelled_device_order()
    order.dispatch("yamato", "1")
    order.refund_overdue(DUE)
    order.dispatch("yamato", "1")
    order.refund_overdue(DUE)
    kinds = [i["kind"] for i in order.incidents]
    assert kinds == ["dispatched_after_cancel", "refund_overdue"]
    assert len({i["incident_id"] for i in order.incidents}) == 2
    assert names(order) == ["Incident", "Incident"]


# -- any sequence after placement ---------------------------------------------------------

STEPS = ["dispatch", "deliver", "cancel", "confirm_refund", "refund_overdue", "debited"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(STEPS), max_size=12))
def test_any_sequence_of_reports_and_answers_keeps_the_order_consistent(
    steps: list[str],
) -> None:
    """The warehouse's reports, the customer's cancellation, the wallet's confirmation, a
    late repeated debit and the refund timer, in any order and repeated, refusals caught as
    the routes catch them: one placement, a cancellation refunds exactly the debit and
    nothing is delivered after it, never both completed and cancelled, one incident per
    kind, nothing delivered that was not dispatched first."""
    order = placed_device_order()
    debited = order.debited_amount
    plan = plan_order(order.id, order.request["lines"], {})
    for step in steps:
        try:
            if step == "dispatch":
                order.dispatch("yamato", "1234")
            elif step == "deliver":
                order.deliver()
            elif step == "cancel":
                order.cancel(DUE)
            elif step == "confirm_refund":
                order.confirm_refund()
            elif step == "refund_overdue":
                confirmed = order.refund_confirmed
                fired = order.refund_overdue(DUE + timedelta(minutes=1))
                assert not (fired and confirmed)  # a confirmed refund is no incident
            else:
                order.debited(debited, plan, DUE)
        except ConflictError:
            pass
    events = names(order)
    assert events.count("Placed") == 1
    assert events.count("LateDebitRefunded") == 0
    assert order.debited_amount == debited
    assert not ("Completed" in events and "CancelledByCustomer" in events)
    assert events.count("CancelledByCustomer") <= 1
    assert events.count("ShipmentDispatched") <= 1
    assert events.count("ShipmentDelivered") <= 1
    kinds = [i["kind"] for i in order.incidents]
    assert len(kinds) == len(set(kinds)) == events.count("Incident")
    if "ShipmentDelivered" in events:
        assert events.index("ShipmentDispatched") < events.index("ShipmentDelivered")
        assert events.index("ShipmentDelivered") < events.index("Completed")
    if "CancelledByCustomer" in events:
        cancelled_at = events.index("CancelledByCustomer")
        assert order.status == "cancelled"
        assert order.refunded == debited
        assert "ShipmentDelivered" not in events[cancelled_at:]
        assert "ShipmentDispatched" not in events[cancelled_at:]
        assert order.shipment is not None and order.shipment["status"] == "cancelled"
    else:
        assert order.refunded == 0 and order.incidents == []
    if "dispatch" in steps and "CancelledByCustomer" in events:
        first_cancel = steps.index("cancel")
        dispatched_later = "dispatch" in steps[first_cancel:]
        assert ("dispatched_after_cancel" in kinds) == dispatched_later
    assert order.status in ("placed", "completed", "cancelled")
    assert (order.status == "completed") == ("Completed" in events)
