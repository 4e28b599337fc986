"""Registration end to end, on the in-process bus and on real PostgreSQL + RabbitMQ:
HTTP in, AccountRegistered.v1 out through the outbox exactly once, mail out."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import pbx_identity.consumers
from pbx_events.bus import Delivery
from pbx_events.envelope import Message
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.mails import REGISTRATION_SUBJECT
from pbx_identity.main import build
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for


class System:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtime: Any) -> None:
        self.client = client
        self.infra = infra
        self.runtime = runtime
        self.seen: list[Message] = []

    @property
    def app(self) -> Any:
        return self.runtime.api.state.application

    async def consume(self) -> None:
        queue = f"test.identity.{uuid.uuid4().hex[:8]}"

        async def on_message(delivery: Delivery) -> None:
            self.seen.append(delivery.message)

        await self.infra.bus.subscribe(queue, ["identity.AccountRegistered.v1"], on_message)
        self.queue = queue

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Message]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.seen) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"saw {len(self.seen)} of {count} messages")
            await asyncio.sleep(0.05)
        # linger: a duplicate would arrive now
        await asyncio.sleep(0.5)
        return self.seen

    def mails(self) -> list[Any]:
        mailer = self.infra.mailer
        assert isinstance(mailer, MaildirMailer)
        return mailer.messages()


@pytest.fixture
async def system(stack: Stack) -> AsyncIterator[System]:
    # identity's own queue carries the stack's per-test prefix (a shared broker)
    prefix = stack.settings.queue_prefix
    own_queues = (
        prefix + pbx_identity.consumers.WALLET_NOTICES,
        prefix + pbx_identity.consumers.KYC_DECISIONS,
        sessions_queue("identity", prefix),
    )
    infra = infrastructure_for(stack)
    runtime = build(infra)
    async with running(infra, [runtime]):
        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
            system = System(client, infra, runtime)
            await system.consume()
            yield system
    if stack.kind == "real":
        await delete_exchange(
            stack.settings.amqp_url, stack.settings.exchange, (system.queue, *own_queues)
        )


def registration(email: str | None = None, **changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    email = email or f"taro.{uuid.uuid4().hex[:8]}@example.co.jp"
    body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
    body.update(changes)
    return body


async def test_registration_publishes_account_registered_once_with_the_request_correlation(
    system: System,
) -> None:
    response = await system.client.post(
        "/accounts", json=registration(), headers={"X-Correlation-ID": "corr-reg-1"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["login_id"].startswith("PBX")
    assert len(created["login_id"]) == 11

    seen = await system.wait_for(1)
    assert len(seen) == 1
    message = seen[0]
    assert message.type == message.routing_key == "identity.AccountRegistered.v1"
    assert message.app_id == "identity"
    assert message.correlation_id == "corr-reg-1"
    assert message.causation_id == response.headers["x-request-id"]
    assert message.producer_position is not None
    assert message.headers["schema_version"]
    payload = json.loads(message.body)
    assert payload["account_id"] == created["account_id"]
    assert payload["login_id"] == created["login_id"]
    assert payload["contractor_type"] == "individual"
    assert payload["email_domain_class"] == "business"
    # minimum personal data: no password, name, address, phone or e-mail
    text = message.body.decode()
    for secret in ("Ky7#mPz!qR", "山田", "example.co.jp", "江東区", "+81", "password"):
        assert secret not in text


async def test_registration_mails_the_login_id_and_url_but_never_the_password(
    system: System,
) -> None:
    email = f"mail.{uuid.uuid4().hex[:8]}@example.co.jp"
    response = await system.client.post("/accounts", json=registration(email))
    assert response.status_code == 201
    login_id = response.json()["login_id"]
    deadline = asyncio.get_running_loop().time() + 10
    while not system.mails():
        assert asyncio.get_running_loop().time() < deadline, "no mail sent"
        await asyncio.sleep(0.05)
    [mail] = system.mails()
    assert mail["Subject"] == REGISTRATION_SUBJECT
    assert mail["To"] == email
    body = mail.get_content()
    assert login_id in body
    assert system.infra.settings.login_url in body
    assert "Ky7#mPz!qR" not in body


async def test_invalid_input_is_refused_with_every_field_and_stores_nothing(system: System) -> None:
    body = registration()
    body["contractor"]["name_kana"] = "やまだ"
    body["contractor"]["postal_code"] = "0001234"
    body["contractor"]["phone"] = "090-1234-567"
    body["password"] = body["password_confirmation"] = "short"
    response = await system.client.post("/accounts", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = {e["field"]: e for e in problem["errors"]}
    assert fields["contractor.name_kana"]["code"] == "invalid_kana"
    assert fields["contractor.postal_code"]["code"] == "invalid_postal_code"
    assert fields["contractor.phone"]["code"] == "invalid_phone"
    assert fields["password"]["code"] == "password_policy"
    assert all(e["message"] for e in problem["errors"])
    assert system.app.max_notification_id() == 0
    await asyncio.sleep(0.3)
    assert system.seen == []


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"contractor": "x"},
        {"contractor": {"email": 12}},
        {"terms": [], "password": 5},
    ],
)
async def test_garbage_bodies_get_422_not_500(system: System, body: Any) -> None:
    response = await system.client.post("/accounts", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]
    assert system.app.max_notification_id() == 0


async def test_a_taken_email_is_refused(system: System) -> None:
    email = f"dup.{uuid.uuid4().hex[:8]}@example.co.jp"
    first = await system.client.post("/accounts", json=registration(email))
    assert first.status_code == 201
    again = await system.client.post("/accounts", json=registration(email.upper()))
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"
    assert again.json()["errors"][0]["field"] == "contractor.email"


async def test_concurrent_registrations_of_one_email_make_exactly_one_account(
    system: System,
) -> None:
    email = f"race.{uuid.uuid4().hex[:8]}@example.co.jp"
    responses = await asyncio.gather(
        *[system.client.post("/accounts", json=registration(email)) for _ in range(8)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, statuses
    seen = await system.wait_for(1)
    assert len(seen) == 1


async def test_a_retried_request_with_the_same_idempotency_key_returns_the_first_result(
    system: System,
) -> None:
    body = registration()
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = await system.client.post("/accounts", json=body, headers=headers)
    second = await system.client.post("/accounts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert len(await system.wait_for(1)) == 1


async def test_validate_checks_one_step_and_stores_nothing(system: System) -> None:
    ok = await system.client.post(
        "/accounts/validate",
        json={"step": "terms", "terms": REGISTRATION_EXAMPLE["terms"]},
    )
    assert ok.status_code == 200, ok.text
    refused = await system.client.post(
        "/accounts/validate",
        json={"step": "terms", "terms": {"privacy_policy_accepted": True}},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "terms_not_accepted"
    whole = await system.client.post("/accounts/validate", json=registration())
    assert whole.status_code == 200
    assert system.app.max_notification_id() == 0


@pytest.mark.parametrize("stack_kind", ["real"])
async def test_personal_data_is_encrypted_at_rest(system: System, stack: Stack) -> None:
    import psycopg

    email = f"secret.{uuid.uuid4().hex[:8]}@example.co.jp"
    response = await system.client.post("/accounts", json=registration(email))
    assert response.status_code == 201
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute("SELECT state FROM identity.identity_events").fetchall()
    assert rows
    for (state,) in rows:
        raw = bytes(state)
        for plain in (email.encode(), "山田".encode(), b"Ky7#mPz!qR", b"argon2id"):
            assert plain not in raw
