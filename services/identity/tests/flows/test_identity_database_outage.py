"""Registration while PostgreSQL is away (real PostgreSQL + RabbitMQ; identity reaches
PostgreSQL through a TCP proxy the test cuts, never the shared server).

- Down: requests answer 503 problem+json with ``Retry-After`` within seconds, and
  ``/readyz`` says so within a second; what failed is not committed later.
- A COMMIT whose acknowledgement was lost: the registration is answered 201 (not
  409 ``email_taken``), a retry with its Idempotency-Key gets the same 201, and there
  is one account, one AccountRegistered and one mail.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pbx_identity.mails import REGISTRATION_SUBJECT
from pbx_kit.problems import RETRY_AFTER_SECONDS
from pbx_kit.testing import Stack
from pbx_kit.testing_faults import TcpProxy, breaking_write_connections

REGISTERED = "identity.AccountRegistered.v1"

pytestmark = [pytest.mark.infra, pytest.mark.parametrize("stack_kind", ["real"])]


@pytest.fixture
def pg_proxy(fresh_database_url: str) -> Iterator[TcpProxy]:
    """In front of the real stack's database (the test's fresh one)."""
    with TcpProxy.in_front_of(fresh_database_url) as proxy:
        proxy.open()
        yield proxy


@pytest.fixture
def stack(stack: Stack, pg_proxy: TcpProxy) -> Stack:
    """The real stack, with identity reaching PostgreSQL through the proxy."""
    assert stack.database_url is not None
    url = pg_proxy.url(stack.database_url)
    return Stack(stack.kind, stack.settings.model_copy(update={"database_url": url}), url)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == "service_unavailable"


def registrations(system: Any) -> int:
    """Account.Registered events in identity's own log."""
    notifications = system.app.notifications_after(0, 10_000)
    return sum(1 for n in notifications if n.topic.endswith("Account.Registered"))


async def test_with_postgresql_down_registration_answers_503_within_seconds_then_registers_once(
    identity_system: Any, pg_proxy: TcpProxy
) -> None:
    system = identity_system
    client: httpx.AsyncClient = system.client
    await system.register()  # through the proxy, all is well
    keyed = system.registration()
    headers = {"Idempotency-Key": f"reg-{uuid.uuid4()}"}
    unkeyed = system.registration()

    pg_proxy.cut()
    started = time.monotonic()
    assert_unavailable(await client.post("/accounts", json=unkeyed))  # the event store's wait
    assert time.monotonic() - started < 7.0
    started = time.monotonic()
    assert_unavailable(await client.post("/accounts", json=keyed, headers=headers))
    assert time.monotonic() - started < 7.0
    started = time.monotonic()
    ready = await client.get("/readyz")
    # its checks are given 0.8 s (CHECK_DEADLINE_SECONDS); the rest is scheduling, which on
    # a loaded 2-core CI machine once took 0.9 s more
    assert time.monotonic() - started < 2.5
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False

    pg_proxy.open()
    deadline = time.monotonic() + 20
    while (
        retried := await client.post("/accounts", json=keyed, headers=headers)
    ).status_code == 503:
        assert time.monotonic() < deadline, "registration did not recover"
        await asyncio.sleep(0.5)
    assert retried.status_code == 201, retried.text
    replayed = await client.post("/accounts", json=keyed, headers=headers)
    assert replayed.status_code == 201
    assert replayed.json() == retried.json()

    # the registration refused during the outage was not committed behind its back
    await asyncio.sleep(1.0)
    later = await client.post("/accounts", json=unkeyed)
    assert later.status_code == 201, later.text
    await system.wait_for(REGISTERED, 3)
    assert len(system.events(REGISTERED)) == 3
    assert registrations(system) == 3
    deadline = time.monotonic() + 10
    while (await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "/readyz did not recover"
        await asyncio.sleep(0.5)


async def test_a_registration_whose_commit_was_not_acknowledged_is_answered_201_once(
    identity_system: Any,
) -> None:
    system = identity_system
    client: httpx.AsyncClient = system.client
    body = system.registration()
    email = body["contractor"]["email"]
    headers = {"Idempotency-Key": f"reg-{uuid.uuid4()}"}

    with breaking_write_connections(system.app, after_commit=True) as broken:
        first = await client.post("/accounts", json=body, headers=headers)
    assert len(broken) == 1  # the registration committed, and its connection broke
    assert first.status_code == 201, first.text

    again = await client.post("/accounts", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"

    published = await system.wait_for(REGISTERED, 1, linger=1.0)
    assert [json.loads(m.body)["account_id"] for m in published] == [first.json()["account_id"]]
    assert registrations(system) == 1
    await system.wait_for_mail(email, REGISTRATION_SUBJECT)
    await asyncio.sleep(0.5)
    assert len(system.mails(email, REGISTRATION_SUBJECT)) == 1
    # and the account is the one answered: it logs in
    tokens = await system.tokens(first.json()["login_id"], body["password"])
    assert tokens["access_token"]
