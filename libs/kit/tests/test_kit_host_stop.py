"""Stopping never hangs, even when the broker has just force-closed every connection."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI

from pbx_events.amqp import AmqpBus
from pbx_events.bus import BusSettings, Delivery
from pbx_events.store import new_cipher_key
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.settings import Settings
from pbx_kit.testing import Broker, delete_exchange


@pytest.mark.infra
async def test_a_stop_right_after_the_broker_dropped_every_connection_completes(
    amqp_broker: Broker, tmp_path: Path
) -> None:
    exchange = f"test.stop.{uuid.uuid4().hex[:8]}"
    queue = f"{exchange}.q"
    settings = Settings(amqp_url=amqp_broker.url, data_dir=tmp_path, exchange=exchange)
    bus = AmqpBus(amqp_broker.url, BusSettings(exchange=exchange))
    infra = Infrastructure(
        settings=settings,
        database_url=None,
        bus=bus,
        mailer=MaildirMailer(tmp_path / "mail", settings.mail_from),
        cipher_key=new_cipher_key(),
    )
    runtime = ServiceRuntime("probe", FastAPI())

    async def idle() -> None:
        await asyncio.Event().wait()

    runtime.loops.append(idle)

    async def handler(delivery: Delivery) -> None:
        return None

    async def scenario() -> None:
        async with running(infra, [runtime]):
            await bus.subscribe(queue, ["#"], handler)
            await asyncio.to_thread(amqp_broker.rabbitmqctl, "close_all_connections", "stop")

    # fails (instead of hanging the suite) if the stop does not come back
    await asyncio.wait_for(scenario(), timeout=120)
    await delete_exchange(amqp_broker.url, exchange, (queue,))
