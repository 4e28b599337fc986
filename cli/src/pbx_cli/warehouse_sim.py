"""``./pbx warehouse-sim``: a stand-in for the warehouse, so the whole purchase can be seen
end to end. It consumes the warehouse's queue on the bus (``ShipmentRequested``,
``ShipmentCancelled``) and, like the real warehouse, reports back over fulfillment's HTTP
API with the ``warehouse`` role: dispatched after ``dispatch_after`` seconds (a carrier and
a tracking number), delivered ``deliver_after`` seconds later.

It keeps nothing of its own: each message is acknowledged once noted, and every
``reconcile_every`` seconds (and at start) it asks fulfillment for the shipments still
``requested`` or ``dispatched`` and reports what is due, so a crash or a restart loses no
shipment. Reports are idempotent on fulfillment's side; a cancelled shipment is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog

from pbx_events.bus import Bus, Delivery
from pbx_events.envelope import parse
from pbx_events.fulfillment import (
    WAREHOUSE_MESSAGES,
    WAREHOUSE_QUEUE,
    ShipmentCancelled,
    ShipmentRequested,
)

log = structlog.get_logger("pbx.warehouse_sim")

CARRIERS = ("yamato", "sagawa", "japan_post")
TokenSource = Callable[[bool], Awaitable[str]]


def tracking_number() -> str:
    """``4123-4567-8901``: the shape Japanese carriers print on the slip."""
    digits = f"{secrets.randbelow(10**12):012d}"
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


@dataclass
class WarehouseSim:
    bus: Bus
    #: fulfillment's base URL (``http://127.0.0.1:8000/fulfillment``)
    fulfillment_url: str
    #: a warehouse-role bearer token; ``True`` asks for a fresh one (after a 401)
    token: TokenSource
    dispatch_after: float = 2.0
    deliver_after: float = 2.0
    reconcile_every: float = 30.0
    queue_prefix: str = ""
    client: httpx.AsyncClient | None = None
    #: shipment id → when it is due, by the event loop's clock
    _due: dict[str, float] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    reported: list[tuple[str, str]] = field(default_factory=list)

    async def run(self) -> None:
        """Consume and report until cancelled."""
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its own line per request
        owned = self.client is None
        self.client = self.client or httpx.AsyncClient(timeout=10.0)
        subscription = await self.bus.subscribe(
            self.queue_prefix + WAREHOUSE_QUEUE,
            [cls.type_name() for cls in WAREHOUSE_MESSAGES],
            self.on_message,
        )
        log.info("warehouse_sim_started", fulfillment=self.fulfillment_url)
        try:
            while True:
                try:
                    await self.reconcile()
                except (httpx.HTTPError, RuntimeError) as exc:
                    log.warning("warehouse_sim_reconcile_failed", error=repr(exc))
                await self._sleep()
        finally:
            await subscription.cancel()
            if owned:
                await self.client.aclose()

    async def _sleep(self) -> None:
        """Until the next shipment is due, a message arrives, or ``reconcile_every``."""
        now = asyncio.get_running_loop().time()
        wait = min([self.reconcile_every, *(due - now for due in self._due.values())])
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, wait))

    async def on_message(self, delivery: Delivery) -> None:
        event = parse(delivery.message)
        loop = asyncio.get_running_loop()
        if isinstance(event, ShipmentRequested):
            items = ", ".join(f"{i.sku}×{i.quantity}" for i in event.items)
            log.info("shipment_received", shipment_id=str(event.shipment_id), items=items)
            self._due.setdefault(str(event.shipment_id), loop.time() + self.dispatch_after)
            self._wake.set()
        elif isinstance(event, ShipmentCancelled):
            log.info("shipment_cancelled", shipment_id=str(event.shipment_id))
            self._due.pop(str(event.shipment_id), None)

    async def reconcile(self) -> None:
        """Report every shipment that is due; learn of ones missed (a restart) from
        fulfillment's list."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for status in ("requested", "dispatched"):
            for shipment in await self._get(f"/shipments?status={status}&limit=500"):
                delay = self.dispatch_after if status == "requested" else self.deliver_after
                due = self._due.setdefault(shipment["shipment_id"], now + delay)
                if due > now:
                    continue
                if status == "requested":
                    body = {
                        "carrier": secrets.choice(CARRIERS),
                        "tracking_number": tracking_number(),
                    }
                    await self._post(f"/shipments/{shipment['shipment_id']}/dispatch", body)
                    self._due[shipment["shipment_id"]] = now + self.deliver_after
                    self.reported.append((shipment["shipment_id"], "dispatched"))
                else:
                    await self._post(f"/shipments/{shipment['shipment_id']}/deliver", None)
                    self._due.pop(shipment["shipment_id"], None)
                    self.reported.append((shipment["shipment_id"], "delivered"))
                log.info(
                    "shipment_reported",
                    shipment_id=shipment["shipment_id"],
                    report="dispatched" if status == "requested" else "delivered",
                )

    async def _request(self, method: str, path: str, body: Any) -> httpx.Response:
        assert self.client is not None
        for fresh in (False, True):
            headers = {"Authorization": f"Bearer {await self.token(fresh)}"}
            response = await self.client.request(
                method, self.fulfillment_url + path, json=body, headers=headers
            )
            if response.status_code != 401:
                return response
        return response

    async def _get(self, path: str) -> list[dict[str, Any]]:
        response = await self._request("GET", path, None)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
        shipments: list[dict[str, Any]] = response.json()
        return shipments

    async def _post(self, path: str, body: Any) -> None:
        response = await self._request("POST", path, body)
        if response.status_code == 409:
            # cancelled meanwhile, or already further along: fulfillment knows best
            log.info("shipment_report_refused", path=path, code=response.json().get("code"))
        elif response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:200]}")


def login_token(base_url: str, login_id: str, password: str) -> TokenSource:
    """A warehouse login's access token from identity (``POST /identity/auth/token``),
    fetched again when fulfillment answers 401."""
    cached: list[str] = []

    async def token(fresh: bool) -> str:
        if fresh or not cached:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(
                    base_url + "/identity/auth/token",
                    json={"login_id": login_id, "password": password},
                )
            if response.status_code != 200:
                raise RuntimeError(f"warehouse login refused: {response.status_code}")
            cached[:] = [response.json()["access_token"]]
        return cached[0]

    return token


SIM_LOGIN_ID = "WAREHOUSE-SIM"


def sim_login(app: Any, data_dir: Path) -> tuple[str, str]:
    """``./pbx up --warehouse-sim``: the stand-in's own staff login (role warehouse), made
    once; its password is kept under the data dir (0600), like the dev keys."""
    path = data_dir / "keys" / "warehouse-sim.password"
    if not path.exists():
        from pbx_identity.commands import CreateStaff

        password = secrets.token_urlsafe(24) + "aA1!"
        try:
            app.create_staff(
                CreateStaff(SIM_LOGIN_ID, "warehouse-sim (stand-in)", ("warehouse",), password)
            )
        except ValueError as exc:
            raise RuntimeError(
                f"{SIM_LOGIN_ID} exists but its password file {path} is gone: "
                "remove the data directory or give the sim another login"
            ) from exc
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password)
    return SIM_LOGIN_ID, path.read_text().strip()


def main(
    url: str, login_id: str, password: str, dispatch_after: float, deliver_after: float
) -> int:
    """``./pbx warehouse-sim``: on the real bus (PBX_AMQP_URL), reporting to ``url``."""
    from pbx_kit.logging import configure_logging
    from pbx_kit.runtime import bus_for
    from pbx_kit.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    if not settings.uses_rabbitmq:
        print(
            "pbx warehouse-sim: set PBX_AMQP_URL to the RabbitMQ the services use "
            "(the in-process bus of a plain ./pbx up is not reachable from another process: "
            "start that one with ./pbx up --warehouse-sim)",
            file=sys.stderr,
        )
        return 2

    async def run() -> None:
        bus = bus_for(settings)
        await bus.connect()
        try:
            sim = WarehouseSim(
                bus,
                url.rstrip("/") + "/fulfillment",
                login_token(url.rstrip("/"), login_id, password),
                dispatch_after=dispatch_after,
                deliver_after=deliver_after,
                queue_prefix=settings.queue_prefix,
            )
            await sim.run()
        finally:
            await bus.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
