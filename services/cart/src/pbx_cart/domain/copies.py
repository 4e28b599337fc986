"""The cart's own copies of what other services publish, kept from their events (never a
synchronous call): products from the catalog, and per account the shipping address
(送付先), circles, the uniques bought in them, the spendable balance and the screening
state. Each copy is an aggregate of the cart's store, changed through the inbox (exactly
once per message), so every change is an event of the cart's too.

Messages may arrive twice or out of order. A product keeps its highest version; an
account's address, balance and screening state keep the fact with the highest position of
their producer (identity's, the wallet's, kyc's: each producer numbers its messages);
a cancelled circle or service stays cancelled whatever arrives after.
"""

from __future__ import annotations

from typing import Any, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_ACCOUNTS = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/cart/account-copy")


class ProductCopy(Aggregate):
    """A product as the catalog last said (its full sellable state, by version)."""

    class Copied(Aggregate.Created):
        state: dict[str, Any]

    @event(Copied)
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    @staticmethod
    def create_id(state: dict[str, Any]) -> UUID:
        return UUID(str(state["product_id"]))

    @property
    def product_version(self) -> int:
        return int(self.state["version"])

    def update(self, state: dict[str, Any]) -> bool:
        """A newer version replaces the copy; an older or the same one changes nothing."""
        if int(state["version"]) <= self.product_version:
            return False
        self._updated(dict(state))
        return True

    class Updated(Aggregate.Event):
        state: dict[str, Any]

    @event(Updated)
    def _updated(self, state: dict[str, Any]) -> None:
        self.state = state


class CircleCopy(TypedDict):
    applied_on: str
    active: bool


class ServiceCopy(TypedDict):
    circle_id: str
    kind: str
    sku: str
    name: str
    active: bool


class AccountCopy(Aggregate):
    """What the cart knows of one account, from identity, the wallet, kyc and fulfillment."""

    class Opened(Aggregate.Created):
        account_id: UUID

    @event(Opened)
    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.shipping_address: dict[str, Any] | None = None
        self.circles: dict[str, CircleCopy] = {}
        self.services: dict[str, ServiceCopy] = {}
        self.balance = 0
        self.screening = "none"
        #: producer → the highest position applied (the newest fact wins)
        self.positions: dict[str, int] = {}

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return uuid5(_ACCOUNTS, str(account_id))

    def _newer(self, key: str, position: int) -> bool:
        return position > self.positions.get(key, -1)

    # -- identity ---------------------------------------------------------------------

    def shipping_address_changed(self, address: dict[str, Any], position: int) -> None:
        if self._newer("shipping_address", position):
            self._shipping_address_copied(dict(address), position)

    class ShippingAddressCopied(Aggregate.Event):
        address: dict[str, Any]
        position: int

    @event(ShippingAddressCopied)
    def _shipping_address_copied(self, address: dict[str, Any], position: int) -> None:
        self.shipping_address = address
        self.positions["shipping_address"] = position

    def circle_added(self, circle_id: UUID, applied_on: str) -> None:
        if str(circle_id) not in self.circles:
            self._circle_copied(str(circle_id), applied_on)

    class CircleCopied(Aggregate.Event):
        circle_id: str
        applied_on: str

    @event(CircleCopied)
    def _circle_copied(self, circle_id: str, applied_on: str) -> None:
        self.circles[circle_id] = CircleCopy(applied_on=applied_on, active=True)

    def circle_cancelled(self, circle_id: UUID) -> None:
        """Cancelled stays cancelled (even when the addition arrives after)."""
        circle = self.circles.get(str(circle_id))
        if circle is None or circle["active"]:
            self._circle_cancelled(str(circle_id))

    class CircleCancelledCopied(Aggregate.Event):
        circle_id: str

    @event(CircleCancelledCopied)
    def _circle_cancelled(self, circle_id: str) -> None:
        circle = self.circles.get(circle_id)
        self.circles[circle_id] = CircleCopy(
            applied_on=circle["applied_on"] if circle else "", active=False
        )

    def active_circles(self) -> list[str]:
        return [cid for cid, c in self.circles.items() if c["active"]]

    # -- fulfillment ------------------------------------------------------------------

    def service_activated(
        self, service_id: UUID, circle_id: UUID, kind: str, sku: str, name: str
    ) -> None:
        if str(service_id) not in self.services:
            self._service_copied(str(service_id), str(circle_id), kind, sku, name)

    class ServiceCopied(Aggregate.Event):
        service_id: str
        circle_id: str
        kind: str
        sku: str
        name: str

    @event(ServiceCopied)
    def _service_copied(
        self, service_id: str, circle_id: str, kind: str, sku: str, name: str
    ) -> None:
        self.services[service_id] = ServiceCopy(
            circle_id=circle_id, kind=kind, sku=sku, name=name, active=True
        )

    def service_cancelled(self, service_id: UUID, circle_id: UUID, kind: str) -> None:
        service = self.services.get(str(service_id))
        if service is None or service["active"]:
            self._service_cancelled(str(service_id), str(circle_id), kind)

    class ServiceCancelledCopied(Aggregate.Event):
        service_id: str
        circle_id: str
        kind: str

    @event(ServiceCancelledCopied)
    def _service_cancelled(self, service_id: str, circle_id: str, kind: str) -> None:
        known = self.services.get(service_id)
        self.services[service_id] = ServiceCopy(
            circle_id=circle_id,
            kind=kind,
            sku=known["sku"] if known else "",
            name=known["name"] if known else "",
            active=False,
        )

    def uniques_in(self, circle_id: str) -> list[str]:
        """The uniques in use in a circle (the device-settings choices)."""
        return [
            sid
            for sid, s in self.services.items()
            if s["active"] and s["kind"] == "unique" and s["circle_id"] == circle_id
        ]

    # -- the wallet and kyc -------------------------------------------------------------

    def balance_is(self, balance: int, position: int) -> None:
        if self._newer("balance", position):
            self._balance_copied(balance, position)

    class BalanceCopied(Aggregate.Event):
        balance: int
        position: int

    @event(BalanceCopied)
    def _balance_copied(self, balance: int, position: int) -> None:
        self.balance = balance
        self.positions["balance"] = position

    def screening_is(self, status: str, position: int) -> None:
        if self._newer("screening", position):
            self._screening_copied(status, position)

    class ScreeningCopied(Aggregate.Event):
        status: str
        position: int

    @event(ScreeningCopied)
    def _screening_copied(self, status: str, position: int) -> None:
        self.screening = status
        self.positions["screening"] = position
