"""The embedded system killed with SIGKILL during registrations loses no committed
registration, and publishes every one of them after a restart (outbox)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from pbx_events.amqp import AmqpBus
from pbx_events.bus import BusSettings, Delivery
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_kit.testing import delete_exchange


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pbx_cli", "up", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "system.log", "ab"),  # the child owns it
    )


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the system exited while starting"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the system did not become healthy")


def body() -> dict[str, Any]:
    data = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    email = f"crash.{uuid.uuid4().hex[:10]}@example.co.jp"
    data["contractor"]["email"] = data["contractor"]["email_confirmation"] = email
    return data


def stop_embedded_postgres(data_dir: Path) -> None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().splitlines()[0])
        try:
            os.kill(pid, signal.SIGINT)  # fast shutdown
        except ProcessLookupError:
            return


@pytest.mark.slow
async def test_sigkill_during_registrations_loses_nothing_committed(
    amqp_url: str, tmp_path: Path
) -> None:
    exchange = f"test.crash.{uuid.uuid4().hex[:8]}"
    queue = f"test.crash.{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PBX_")}
    env.update({"PBX_AMQP_URL": amqp_url, "PBX_EXCHANGE": exchange, "PBX_LOG_LEVEL": "WARNING"})
    bus = AmqpBus(amqp_url, BusSettings(exchange=exchange))
    await bus.connect()
    await bus.declare_queue(queue, ["identity.AccountRegistered.v1"])
    port = free_port()
    proc = start(tmp_path, port, env)
    try:
        await asyncio.to_thread(wait_healthy, port, proc)
        committed: set[str] = set()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def register_forever() -> None:
                while True:
                    try:
                        response = await client.post("/identity/accounts", json=body())
                    except httpx.HTTPError:
                        return  # the system is gone
                    assert response.status_code == 201, response.text
                    committed.add(response.json()["login_id"])

            workers = [asyncio.create_task(register_forever()) for _ in range(4)]
            while len(committed) < 12:
                await asyncio.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            await asyncio.gather(*workers)
        assert len(committed) >= 12

        proc = start(tmp_path, port, env)
        await asyncio.to_thread(wait_healthy, port, proc)
        seen: list[str] = []

        async def on_message(delivery: Delivery) -> None:
            seen.append(json.loads(delivery.message.body)["login_id"])

        await bus.subscribe(queue, ["identity.AccountRegistered.v1"], on_message)
        deadline = time.monotonic() + 60
        while not committed <= set(seen):
            assert time.monotonic() < deadline, f"missing: {committed - set(seen)}"
            await asyncio.sleep(0.1)

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 60) == 0
        # a clean stop also stops the embedded PostgreSQL
        assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop_embedded_postgres(tmp_path)
        await bus.close()
        await delete_exchange(amqp_url, exchange, (queue,))
