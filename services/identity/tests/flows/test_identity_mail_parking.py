"""Identity's mails go through its mail outbox: one refused address is parked and never
holds up the next customers' mails; a deferred one is delivered on a later try; a server
down only makes the backlog grow; a mail queued before a stop is sent after the restart.
Against a scripted SMTP server, on the in-process stack and on real PostgreSQL + RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

import pbx_identity.application
import pbx_identity.consumers
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.mails import REGISTRATION_SUBJECT
from pbx_identity.main import build
from pbx_kit.mail import SmtpMailer, mask_address
from pbx_kit.mail_outbox import MailOutbox
from pbx_kit.testing import Served, Stack, serving
from pbx_kit.testing_passwords import cheap_password_hashing
from pbx_kit.testing_smtp import ScriptedSmtpServer

OWN_QUEUES = (pbx_identity.consumers.WALLET_NOTICES, pbx_identity.consumers.KYC_DECISIONS)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_password_hashing(monkeypatch, pbx_identity.application)


@pytest.fixture
async def smtp() -> AsyncIterator[ScriptedSmtpServer]:
    server = ScriptedSmtpServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def mail_stack(stack: Stack) -> Stack:
    """The stack with deferred mails due again within a tenth of a second."""
    quick = stack.settings.model_copy(
        update={"mail_retry_first_seconds": 0.05, "mail_retry_max_seconds": 0.2}
    )
    return Stack(stack.kind, quick, stack.database_url)


def with_smtp(smtp: ScriptedSmtpServer) -> Callable[[Any], Any]:
    """``build`` on an infrastructure whose mailer is the scripted SMTP server."""

    def build_on_smtp(infra: Any) -> Any:
        infra.mailer = SmtpMailer(smtp.url, infra.settings.mail_from, timeout=5)
        return build(infra)

    return build_on_smtp


def identity(stack: Stack, smtp: ScriptedSmtpServer) -> Any:
    return serving(stack, with_smtp(smtp), "identity.#", OWN_QUEUES)


def outbox_of(served: Served) -> MailOutbox:
    outbox: MailOutbox = served.runtime.api.state.mail_outbox
    return outbox


def an_address(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.co.jp"


async def register(served: Served, email: str) -> None:
    body: dict[str, Any] = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
    response = await served.client.post("/accounts", json=body)
    assert response.status_code == 201, response.text


async def until(condition: Callable[[], Awaitable[bool] | bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def mail_figures(served: Served) -> dict[str, Any]:
    response = await served.client.get("/readyz")
    assert response.status_code == 200, response.text
    checks: dict[str, Any] = response.json()["checks"]
    return {"backlog": checks["mail_backlog"]["value"], "parked": checks["mail_parked"]["value"]}


async def test_a_refused_address_is_parked_and_the_next_customers_still_get_their_mails(
    mail_stack: Stack, smtp: ScriptedSmtpServer
) -> None:
    gone, busy, fine = an_address("gone"), an_address("busy"), an_address("fine")
    smtp.refuse(gone)
    smtp.defer(busy)
    with capture_logs() as logs:
        async with identity(mail_stack, smtp) as served:
            for email in (gone, busy, fine):
                await register(served, email)

            await until(lambda: bool(smtp.delivered_to(busy) and smtp.delivered_to(fine)))
            outbox = outbox_of(served)
            await until(lambda: _parked_count(outbox, 1))
            (parked,) = await outbox.parked()
            figures = await mail_figures(served)
            metrics = (await served.client.get("/metrics")).text

            smtp.accept(gone)  # the customer's mailbox works again
            assert await outbox.resend([parked.message_id]) == [parked.message_id]
            await until(lambda: bool(smtp.delivered_to(gone)))
            after_resend = await mail_figures(served)

    assert smtp.asked[busy] == 2  # deferred once, delivered on the next try
    assert (parked.subject, parked.code, parked.masked_to) == (
        REGISTRATION_SUBJECT,
        550,
        mask_address(gone),
    )
    assert figures == {"backlog": {"queued": 0, "oldest_age_seconds": None}, "parked": 1}
    assert 'pbx_mail_parked{service="identity"} 1.0' in metrics
    assert after_resend["parked"] == 0
    for email in (gone, busy, fine):
        (mail,) = smtp.delivered_to(email)
        assert mail["Subject"] == REGISTRATION_SUBJECT
    written = json.dumps(logs, ensure_ascii=False, default=str)
    assert {e["event"] for e in logs} >= {"mail_parked", "mail_deferred", "mail_sent"}
    for email in (gone, busy, fine):
        assert email not in written
        assert email.partition("@")[0] not in written


async def _parked_count(outbox: MailOutbox, count: int) -> bool:
    return (await outbox.backlog()).parked == count


async def test_with_the_mail_server_down_the_backlog_grows_and_all_go_out_once_it_is_back(
    mail_stack: Stack, smtp: ScriptedSmtpServer
) -> None:
    customers = [an_address("c1"), an_address("c2")]
    await smtp.stop()
    async with identity(mail_stack, smtp) as served:
        for email in customers:
            await register(served, email)

        async def backlog_of_two() -> bool:
            return bool((await mail_figures(served))["backlog"]["queued"] == 2)

        await until(backlog_of_two)
        await asyncio.sleep(0.5)  # several tries fail meanwhile
        down = await mail_figures(served)
        ready = await served.client.get("/readyz")

        await smtp.start()
        await until(lambda: all(smtp.delivered_to(email) for email in customers))

        async def backlog_empty() -> bool:
            return bool((await mail_figures(served))["backlog"]["queued"] == 0)

        await until(backlog_empty)
        await asyncio.sleep(0.3)  # a duplicate would go out now

    assert ready.status_code == 200
    assert down["parked"] == 0
    assert down["backlog"]["oldest_age_seconds"] > 0
    assert [len(smtp.delivered_to(email)) for email in customers] == [1, 1]


@pytest.mark.parametrize("stack_kind", ["real"])
async def test_a_mail_queued_before_the_service_stopped_is_sent_after_it_restarts(
    mail_stack: Stack, smtp: ScriptedSmtpServer
) -> None:
    email = an_address("taro")
    await smtp.stop()
    async with identity(mail_stack, smtp) as served:
        await register(served, email)

        async def queued() -> bool:
            return bool((await mail_figures(served))["backlog"]["queued"] == 1)

        await until(queued)
    # the process is gone with the mail unsent; the server comes back, so does identity

    await smtp.start()
    async with identity(mail_stack, smtp) as restarted:
        await until(lambda: bool(smtp.delivered_to(email)))
        await asyncio.sleep(0.3)
        figures = await mail_figures(restarted)

    assert len(smtp.delivered_to(email)) == 1
    assert figures["backlog"]["queued"] == 0


async def test_a_mail_is_logged_with_the_correlation_id_of_the_request_that_caused_it(
    mail_stack: Stack, smtp: ScriptedSmtpServer
) -> None:
    email = an_address("traced")
    body: dict[str, Any] = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    body["contractor"]["email"] = body["contractor"]["email_confirmation"] = email
    correlation_id = f"corr-{uuid.uuid4().hex}"
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with identity(mail_stack, smtp) as served:
            response = await served.client.post(
                "/accounts", json=body, headers={"X-Correlation-ID": correlation_id}
            )
            assert response.status_code == 201, response.text
            await until(lambda: bool(smtp.delivered_to(email)))
            await until(lambda: any(e["event"] == "mail_sent" for e in logs))

    (sent,) = [e for e in logs if e["event"] == "mail_sent"]
    assert sent["correlation_id"] == correlation_id
