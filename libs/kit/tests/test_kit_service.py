"""The service skeleton: a declared service starts its application, its own setup and
then its consumers; a consumer's handler calls the same application method a route
calls, and the message takes effect once; at stop the consumers go first."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from eventsourcing.domain import Aggregate, event
from fastapi import APIRouter, Request

from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, to_message
from pbx_events.identity import AccountRegistered
from pbx_events.store import ServiceApplication
from pbx_kit.host import running
from pbx_kit.runtime import Infrastructure
from pbx_kit.service import Running, Service
from pbx_kit.testing import memory_infrastructure


class Greeting(Aggregate):
    @event("Opened")
    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.greeted = 0

    def greet(self) -> None:
        self._greeted()

    @event("Greeted")
    def _greeted(self) -> None:
        self.greeted += 1

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"greeting:{account_id}")


class GreetingApp(ServiceApplication):
    def greet(self, account_id: UUID) -> int:
        """The one path: an HTTP route and the consumer both come here."""
        try:
            greeting: Greeting = self.repository.get(Greeting.create_id(account_id))
        except Exception:
            greeting = Greeting(account_id)  # its id: create_id(account_id)
        greeting.greet()
        self.save(greeting)
        return greeting.greeted

    def greeted(self, account_id: UUID) -> int:
        greeting: Greeting = self.repository.get(Greeting.create_id(account_id))
        return greeting.greeted


router = APIRouter()


@router.post("/greetings/{account_id}")
def greet(account_id: UUID, request: Request) -> dict[str, int]:
    """Greet an account over HTTP."""
    return {"greeted": request.app.state.application.greet(account_id)}


def on_account_registered(app: GreetingApp, event: AccountRegistered, _: Message) -> None:
    app.greet(event.account_id)


def no_mapping(_app: GreetingApp) -> Any:
    def mapping(_event: Any) -> Sequence[IntegrationEvent]:
        return []

    return mapping


def a_message(account_id: UUID, position: int) -> Message:
    event = AccountRegistered(
        account_id=account_id,
        login_id="PBX00000001",
        contractor_type="individual",
        email_domain_class="business",
        screening_phone_is_fixed_line=True,
        registered_at=datetime.now(UTC),
    )
    return to_message(
        event,
        message_id=f"m-{position}",
        producer_position=position,
        correlation_id=None,
        causation_id=None,
    )


def greeting_service(log: list[str]) -> Service[GreetingApp]:
    def application(infra: Infrastructure) -> GreetingApp:
        log.append("application")
        return GreetingApp(infra.eventsourcing_env("greetings"))

    async def setup(service: Running[GreetingApp]) -> None:
        log.append("setup")

        async def stop() -> None:
            log.append("setup's stop")

        service.runtime.on_stop.append(stop)

    return Service[GreetingApp](
        name="greetings",
        title="Greetings",
        description="A service declared for the skeleton's tests.",
        routers=[router],
        application=application,
        mapping=no_mapping,
        consumers={"greetings.accounts": {AccountRegistered: on_account_registered}},
        setup=setup,
    )


async def test_a_message_and_a_route_take_the_same_path_and_a_repeat_is_a_duplicate(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    infra = memory_infrastructure(tmp_path)
    runtime = greeting_service(log).build(infra)
    account = uuid.uuid4()
    async with running(infra, [runtime]):
        assert log == ["application", "setup"]  # consumers come after the setup
        app: GreetingApp = runtime.api.state.application
        message = a_message(account, 7)
        await infra.bus.publish([message, message])  # delivered twice
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            try:
                if app.greeted(account) == 1:
                    break
            except Exception:  # noqa: S110 - not there yet
                pass
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert app.greeted(account) == 1  # the second delivery was a duplicate

        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            reply = await client.post(f"/greetings/{account}")
        assert reply.json() == {"greeted": 2}
    assert log[-1] == "setup's stop"


async def test_the_consumers_stop_before_anything_else(tmp_path: Path) -> None:
    log: list[str] = []
    infra = memory_infrastructure(tmp_path)
    runtime = greeting_service(log).build(infra)
    async with running(infra, [runtime]):
        first = runtime.on_stop[0]
        assert first.__name__ == "stop_consuming"


async def test_metrics_show_the_inbox_the_relay_lag_and_a_dead_lettered_message(
    tmp_path: Path,
) -> None:
    infra = memory_infrastructure(tmp_path)
    infra.bus.settings = dataclasses.replace(infra.bus.settings, retry_base_delay=0.01)
    runtime = greeting_service([]).build(infra)
    account = uuid.uuid4()
    good = a_message(account, 1)
    poison = dataclasses.replace(a_message(account, 2), message_id="m-poison", body=b"{}")
    async with running(infra, [runtime]):
        await infra.bus.publish([good, good, poison])
        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                text = (await client.get("/metrics")).text
                if 'pbx_dlq_messages{queue="greetings.accounts"} 1.0' in text:
                    break
                assert asyncio.get_running_loop().time() < deadline, text
                await asyncio.sleep(0.05)
            ready = (await client.get("/readyz")).json()
        assert ready["checks"]["dead_letters"] == {"value": {"greetings.accounts": 1}}
        assert 'pbx_inbox_handled_total{queue="greetings.accounts"}' in text
        assert 'pbx_inbox_duplicates_total{queue="greetings.accounts"}' in text
        # the relay's lag, measured for this /metrics (a figure, like the dead letters)
        assert re.search(r'^pbx_relay_lag\{service="greetings"\} [0-9.]+$', text, re.MULTILINE)
