"""Fulfillment's own copies of what it decides on, kept from events (never a call): each
product's version and whether it can be bought, and per account the screening state and
the circles. The newest version or producer position wins; cancelled stays cancelled."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_ACCOUNTS = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/fulfillment/account-facts")


class ProductFactsCopy(Aggregate):
    class Copied(Aggregate.Created):
        state: dict[str, Any]

    @event(Copied)
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    @staticmethod
    def create_id(state: dict[str, Any]) -> UUID:
        return UUID(str(state["product_id"]))

    def update(self, state: dict[str, Any]) -> None:
        if int(state["version"]) > int(self.state["version"]):
            self._updated(dict(state))

    class Updated(Aggregate.Event):
        state: dict[str, Any]

    @event(Updated)
    def _updated(self, state: dict[str, Any]) -> None:
        self.state = state


class AccountFactsCopy(Aggregate):
    class Opened(Aggregate.Created):
        account_id: UUID

    @event(Opened)
    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.screening = "none"
        self.screening_position = -1
        #: circle id → active
        self.circles: dict[str, bool] = {}
        #: service id → {kind, circle_id, active}: what fulfillment itself activated
        self.services: dict[str, dict[str, Any]] = {}

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return uuid5(_ACCOUNTS, str(account_id))

    def screening_is(self, status: str, position: int) -> None:
        if position > self.screening_position:
            self._screening_copied(status, position)

    class ScreeningCopied(Aggregate.Event):
        status: str
        position: int

    @event(ScreeningCopied)
    def _screening_copied(self, status: str, position: int) -> None:
        self.screening = status
        self.screening_position = position

    def circle_added(self, circle_id: UUID) -> None:
        if str(circle_id) not in self.circles:
            self._circle(str(circle_id), True)

    def circle_cancelled(self, circle_id: UUID) -> None:
        if self.circles.get(str(circle_id), True):
            self._circle(str(circle_id), False)

    class CircleCopied(Aggregate.Event):
        circle_id: str
        active: bool

    @event(CircleCopied)
    def _circle(self, circle_id: str, active: bool) -> None:
        self.circles[circle_id] = active

    def active_circles(self) -> frozenset[str]:
        return frozenset(c for c, active in self.circles.items() if active)

    def services_changed(
        self, activated: list[dict[str, Any]], cancelled: list[dict[str, Any]]
    ) -> None:
        """An order placed: its services are in use, the ones it cancels are not."""
        if activated or cancelled:
            self._services_changed(
                [
                    {"service_id": s["service_id"], "kind": s["kind"], "circle_id": s["circle_id"]}
                    for s in activated
                ],
                [s["service_id"] for s in cancelled],
            )

    class ServicesChanged(Aggregate.Event):
        activated: list[dict[str, Any]]
        cancelled: list[str]

    @event(ServicesChanged)
    def _services_changed(self, activated: list[dict[str, Any]], cancelled: list[str]) -> None:
        for service in activated:
            self.services[service["service_id"]] = {
                "kind": service["kind"],
                "circle_id": service["circle_id"],
                "active": True,
            }
        for service_id in cancelled:
            if service_id in self.services:
                self.services[service_id] = {**self.services[service_id], "active": False}

    def services_in_use(self) -> dict[str, dict[str, str]]:
        """Service id → {kind, circle_id} of the services in use in an active circle."""
        active = self.active_circles()
        return {
            sid: {"kind": s["kind"], "circle_id": s["circle_id"]}
            for sid, s in self.services.items()
            if s["active"] and s["circle_id"] in active
        }
