"""The purchase journey across processes, as deployed: ``./pbx up --separate`` runs each
service in a process of its own (two replicas of wallet and fulfillment) on real
PostgreSQL and RabbitMQ behind nginx, with the stand-in warehouse; the journey goes
through the entry URL only, the staff made with ``./pbx admin create-staff``. Tokens are
checked through identity's JWKS by the other processes.

register → a circle → a licence approved by a reviewer → a card top-up → a unique bought
and activated in the circle → devices bought → shipment dispatched and delivered by the
warehouse process → order completed; then everything stops on SIGINT."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pbx_cli.separate import find_nginx
from pbx_cli.topology import all_queues
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_kit.testing import delete_exchange, missing
from pbx_kyc.testing import jpeg

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sample#Passw0rd"
STAFF_PASSWORD = "Staff#Passw0rd!9"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


class System:
    def __init__(self, client: httpx.AsyncClient, env: dict[str, str], data_dir: Path) -> None:
        self.client = client
        self.env = env
        self.data_dir = data_dir

    async def login(self, login_id: str, password: str) -> str:
        reply = await self.client.post(
            "/identity/auth/token", json={"login_id": login_id, "password": password}
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    async def staff(self, role: str) -> str:
        login_id = f"{role.upper()}{uuid.uuid4().hex[:6].upper()}"
        made = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "pbx_cli",
                "admin",
                "create-staff",
                "--role",
                role,
                "--login-id",
                login_id,
                "--name",
                "社員 太郎",
                "--password-stdin",
                "--data-dir",
                str(self.data_dir),
            ],
            input=STAFF_PASSWORD + "\n",
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        return await self.login(login_id, STAFF_PASSWORD)

    async def get(self, path: str, token: str) -> Any:
        reply = await self.client.get(path, headers=bearer(token))
        assert reply.status_code == 200, f"{path}: {reply.text}"
        return reply.json()

    async def post(self, path: str, token: str, body: Any = None, status: int = 200) -> Any:
        reply = await self.client.post(path, json=body, headers=bearer(token))
        assert reply.status_code == status, f"{path}: {reply.text}"
        return reply.json() if reply.content else None

    async def settled(self, checkout_id: str, token: str) -> dict[str, Any]:
        async def answered() -> dict[str, Any] | None:
            answer: dict[str, Any] = await self.get(f"/cart/checkouts/{checkout_id}", token)
            return None if answer["status"] == "pending" else answer

        answer: dict[str, Any] = await eventually(answered)
        return answer


def start(port: int, data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``./pbx up --separate`` with two replicas of wallet and fulfillment and the sim."""
    return subprocess.Popen(  # our own CLI
        [
            sys.executable,
            "-m",
            "pbx_cli",
            "up",
            "--separate",
            "--port",
            str(port),
            "--replicas",
            "wallet=2,fulfillment=2",
            "--warehouse-sim",
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
async def system(fresh_database_url: str, amqp_url: str, tmp_path: Path) -> AsyncIterator[System]:
    if find_nginx() is None:
        missing(
            "nginx", "./pbx up --separate needs it for the entry URL (apt-get install nginx-light)"
        )
    exchange = f"test.{uuid.uuid4().hex[:10]}"
    port = free_port()
    env = {
        **os.environ,
        "PBX_DATABASE_URL": fresh_database_url,
        "PBX_AMQP_URL": amqp_url,
        "PBX_EXCHANGE": exchange,
        "PBX_QUEUE_PREFIX": f"{exchange}.",
        "PBX_DATA_DIR": str(tmp_path),
        "PBX_WALLET_PROVIDER": "sandbox",
        "PBX_WALLET_ALLOW_SANDBOX": "true",
        "PBX_LOG_LEVEL": "warning",
    }
    up = start(port, tmp_path, env)
    lines: list[str] = []

    def read() -> None:
        assert up.stdout is not None
        for raw in iter(up.stdout.readline, b""):
            lines.append(raw.decode("utf-8", "replace"))

    reader = asyncio.get_running_loop().run_in_executor(None, read)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            def ready() -> bool:
                assert up.poll() is None, "".join(lines[-40:])
                return any("service processes behind" in line for line in lines)

            await eventually(ready, timeout=240)
            yield System(client, env, tmp_path)
        # Ctrl-C stops everything, cleanly
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0, "".join(lines[-40:])
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(30)
        await reader
        queues = tuple(f"{exchange}.{q}" for q in all_queues())
        await delete_exchange(amqp_url, exchange, queues)


async def test_the_purchase_journey_across_processes_through_the_entry_url(
    system: System,
) -> None:
    s = system
    body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    email = f"separate.{uuid.uuid4().hex[:10]}@example.co.jp"
    body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
    body["password"] = body["password_confirmation"] = PASSWORD
    registered = await s.client.post("/identity/accounts", json=body)
    assert registered.status_code == 201, registered.text
    customer = await s.login(registered.json()["login_id"], PASSWORD)
    circle = await s.post(
        "/identity/accounts/me/circles",
        customer,
        {"department_name": "営業部", "staff_name": "佐藤 花子"},
        status=201,
    )

    # kyc (another process) knows the account and accepts identity's token (JWKS)
    async def review_opened() -> bool:
        reply = await s.client.get("/kyc/reviews/me", headers=bearer(customer))
        return reply.status_code == 200

    await eventually(review_opened)
    today = date.today()
    upload = await s.client.post(
        "/kyc/documents",
        data={
            "document_type": "drivers_license",
            "side": "front",
            "issued_on": str(today - timedelta(days=400)),
            "expires_on": str(today + timedelta(days=500)),
        },
        files={"file": ("licence.jpg", jpeg(), "image/jpeg")},
        headers=bearer(customer),
    )
    assert upload.status_code == 201, upload.text
    review_id = upload.json()["review"]["review_id"]
    reviewer = await s.staff("reviewer")

    async def queued() -> bool:
        reviews = await s.get("/kyc/reviews", reviewer)
        return any(r["review_id"] == review_id for r in reviews)

    await eventually(queued)
    await s.post(f"/kyc/reviews/{review_id}/approve", reviewer)

    # the wallet (two processes) knows the account; a card top-up
    async def wallet_opened() -> bool:
        reply = await s.client.get("/wallet/wallets/me", headers=bearer(customer))
        return reply.status_code == 200

    await eventually(wallet_opened)
    await s.post(
        "/wallet/wallets/me/top-ups",
        customer,
        {"amount": 100_000, "method": "credit_card", "card_token": "tok_visa"},
        status=201,
    )

    async def add(line: dict[str, Any]) -> dict[str, Any]:
        async def added() -> dict[str, Any] | None:
            reply = await s.client.post("/cart/carts/me/lines", json=line, headers=bearer(customer))
            return reply.json() if reply.status_code == 201 else None

        cart: dict[str, Any] = await eventually(added)
        return cart

    async def screened_and_funded() -> bool:
        review = await s.get("/cart/carts/me/review", customer)
        return not review.get("warnings")

    # the unique: placed by one of the two fulfillment processes, activated in the circle
    await add({"sku": "UNIQUE", "quantity": 1, "circle_id": circle["circle_id"]})
    await eventually(screened_and_funded)
    started = await s.post("/cart/carts/me/checkout", customer, status=202)
    assert (await s.settled(started["checkout_id"], customer))["status"] == "placed"
    order = await s.get(f"/fulfillment/orders/{started['checkout_id']}", customer)
    assert order["status"] == "completed"
    [service] = order["services"]

    async def in_circle() -> bool:
        circles = await s.get("/identity/accounts/me/circles", customer)
        return any(x["service_id"] == service["service_id"] for c in circles for x in c["services"])

    await eventually(in_circle)

    # the devices: the warehouse process dispatches and delivers them
    await add({"sku": "GS-GXP1625", "quantity": 2})
    started = await s.post("/cart/carts/me/checkout", customer, status=202)
    devices = started["checkout_id"]
    assert (await s.settled(devices, customer))["status"] == "placed"

    async def completed() -> dict[str, Any] | None:
        data: dict[str, Any] = await s.get(f"/fulfillment/orders/{devices}", customer)
        return data if data["status"] == "completed" else None

    order = await eventually(completed, timeout=90)
    assert order["shipment"]["status"] == "delivered"
    assert [e["status"] for e in order["timeline"]][-3:] == ["dispatched", "delivered", "completed"]
    wallet = await s.get("/wallet/wallets/me", customer)
    orders = await s.get("/fulfillment/orders", customer)
    assert wallet["balance"] == 100_000 - sum(o["totals"]["total"] for o in orders)
