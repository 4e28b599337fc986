"""What a paid order sets in motion, per kind of line (SPEC §5.3): devices go to the
warehouse in one shipment; monthly uniques, phone numbers and rentals become services in
the circle the line named; cancellation items end the service they name.

Decided from the order's lines and fulfillment's own copy of the account's services, never
by asking; ids are derived from the order, so deciding again gives the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

_IDS = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/fulfillment/order")

#: a monthly product's SKU → the kind of service it is
SERVICE_SKU_PREFIXES = (("UNIQUE", "unique"), ("NUM-", "phone_number"), ("RENT-", "rental"))


def service_kind(sku: str) -> str | None:
    """The service a monthly SKU buys (None: not a service fulfillment knows)."""
    return next((kind for prefix, kind in SERVICE_SKU_PREFIXES if sku.startswith(prefix)), None)


def shipment_id_of(order_id: UUID) -> UUID:
    """An order's one shipment (at most one: all its devices go to one address)."""
    return uuid5(_IDS, f"{order_id}/shipment")


def service_id_of(order_id: UUID, line_no: int, index: int) -> UUID:
    return uuid5(_IDS, f"{order_id}/service/{line_no}/{index}")


@dataclass(frozen=True)
class Plan:
    #: ShipmentItem payloads (pbx_events.fulfillment); empty: nothing to ship
    items: list[dict[str, Any]] = field(default_factory=list)
    #: ServiceActivated payloads without the account and order (phone numbers unset)
    activations: list[dict[str, Any]] = field(default_factory=list)
    #: the services ended: service_id, kind, circle_id
    cancellations: list[dict[str, Any]] = field(default_factory=list)


def plan_order(
    order_id: UUID,
    lines: Sequence[Mapping[str, Any]],
    services: Mapping[str, Mapping[str, str]],
) -> Plan:
    """``services``: the account's services, service id → {kind, circle_id, active} (a
    cancellation ends one still active, whatever its circle's state)."""
    items: list[dict[str, Any]] = []
    activations: list[dict[str, Any]] = []
    cancellations: list[dict[str, Any]] = []
    for line in lines:
        kind = str(line["billing_kind"])
        if kind == "one_time":
            items.append(
                {
                    "line_no": int(line["line_no"]),
                    "product_id": str(line["product_id"]),
                    "sku": str(line["sku"]),
                    "name": str(line["name"]),
                    "quantity": int(line["quantity"]),
                    "circle_id": _str_or_none(line.get("circle_id")),
                    "unique_id": _str_or_none(line.get("unique_id")),
                }
            )
        elif kind == "monthly":
            service = service_kind(str(line["sku"])) or "unique"
            for index in range(int(line["quantity"])):
                activations.append(
                    {
                        "service_id": str(service_id_of(order_id, int(line["line_no"]), index)),
                        "kind": service,
                        "circle_id": str(line["circle_id"]),
                        "product_id": str(line["product_id"]),
                        "sku": str(line["sku"]),
                        "name": str(line["name"]),
                        "phone_number": None,
                    }
                )
        elif kind == "cancellation":
            service_id = str(line["service_id"])
            known = services.get(service_id)
            # ended meanwhile (another order cancelled it) or never fulfillment's: the
            # money was for ending it, and it has ended; nothing more to announce
            if known is not None and known.get("active", True):
                cancellations.append(
                    {
                        "service_id": service_id,
                        "kind": known["kind"],
                        "circle_id": known["circle_id"],
                    }
                )
    return Plan(items, activations, cancellations)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
