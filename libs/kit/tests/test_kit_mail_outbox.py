"""One refused address never holds up the other mails: the outbox, its sender and the SMTP
failure classes, against a scripted SMTP server, on the in-memory outbox and on the
PostgreSQL one (``PBX_TEST_DATABASE_URL``; a failure without it when ``PBX_REQUIRE_INFRA=1``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import smtplib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from fastapi import FastAPI
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from pbx_events.memory import InMemoryBus
from pbx_events.store import new_cipher_key
from pbx_kit.app import Edge, create_app
from pbx_kit.db import create_pool
from pbx_kit.mail import (
    Mail,
    MaildirMailer,
    PermanentMailError,
    SmtpMailer,
    TemporaryMailError,
    mask_address,
    smtp_failure,
)
from pbx_kit.mail_outbox import MailOutbox, MemoryMailOutbox
from pbx_kit.mail_outbox_postgres import PostgresMailOutbox
from pbx_kit.mail_sender import MailRetry, MailSender, wire_mail_outbox
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.settings import Settings
from pbx_kit.testing_smtp import ScriptedSmtpServer

SENDER = "クラウドPBX <no-reply@cloudpbx.example.jp>"
KEY = bytes(range(32))
#: short delays: a deferred mail is due again within a tenth of a second
QUICK = MailRetry(first=0.05, cap=0.2)


def a_mail(to: str, subject: str = "【クラウドPBX】お知らせ") -> Mail:
    return Mail(
        to=to,
        subject=subject,
        body="山田 太郎 様\n\nいつもご利用ありがとうございます。\n",
        message_id=f"mail-{uuid.uuid4().hex[:12]}",
    )


def address(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:6]}@example.jp"


@pytest.fixture
async def smtp() -> AsyncIterator[ScriptedSmtpServer]:
    server = ScriptedSmtpServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def mailer(smtp: ScriptedSmtpServer) -> SmtpMailer:
    return SmtpMailer(smtp.url, SENDER, timeout=5)


@contextlib.asynccontextmanager
async def a_schema(database_url: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A schema of its own with a pool on it, dropped afterwards."""
    schema = f"test_mail_{uuid.uuid4().hex[:12]}"
    pool = await create_pool(database_url, schema)
    try:
        yield schema, pool
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()


@pytest.fixture
async def schema_pool(database_url: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with a_schema(database_url) as created:
        yield created


@pytest.fixture(params=["memory", "postgres"])
async def outbox(request: pytest.FixtureRequest) -> AsyncIterator[MailOutbox]:
    if request.param == "memory":
        yield MemoryMailOutbox()
        return
    async with a_schema(request.getfixturevalue("database_url")) as (schema, pool):
        stored = PostgresMailOutbox(pool, schema, KEY)
        await stored.create_table()
        await stored.create_table()  # every start runs it
        yield stored


def sender_for(outbox: MailOutbox, mailer: Any, **options: Any) -> MailSender:
    return MailSender(outbox, mailer, "testsvc", retry=options.pop("retry", QUICK), **options)


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def send_until_idle(sender: MailSender, rounds: int = 50) -> None:
    """Send every mail due, waiting for deferred ones, until nothing is queued."""
    for _ in range(rounds):
        await sender.send_due()
        if (await sender.outbox.backlog()).queued == 0:
            return
        await asyncio.sleep(0.06)
    raise AssertionError("mails still queued")


# --- the SMTP mailer's failure classes ---------------------------------------------------


async def test_a_550_for_the_recipient_is_a_permanent_error_with_the_code_and_no_address(
    smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    to = address("gone")
    smtp.refuse(to)

    with pytest.raises(PermanentMailError) as raised:
        await asyncio.to_thread(mailer.send, a_mail(to))

    assert raised.value.code == 550
    assert "User unknown" in raised.value.reason
    assert to not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_a_451_for_the_recipient_is_a_temporary_error_of_that_mail(
    smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    to = address("busy")
    smtp.defer(to)

    with pytest.raises(TemporaryMailError) as raised:
        await asyncio.to_thread(mailer.send, a_mail(to))

    assert raised.value.code == 451
    assert not raised.value.server
    assert to not in str(raised.value)


async def test_no_server_listening_is_a_temporary_error_of_the_server() -> None:
    down = ScriptedSmtpServer()
    await down.start()
    await down.stop()

    with pytest.raises(TemporaryMailError) as raised:
        await asyncio.to_thread(SmtpMailer(down.url, SENDER, timeout=2).send, a_mail("a@b.jp"))

    assert raised.value.server
    assert raised.value.code is None


@pytest.mark.parametrize(
    "to", ["taro", "taro@@example.jp", "taro @example.jp", "<taro@example.jp>", "a@b.jp\r\nBcc: x"]
)
async def test_a_malformed_address_is_permanent_and_never_reaches_the_server(
    smtp: ScriptedSmtpServer, mailer: SmtpMailer, to: str
) -> None:
    with pytest.raises(PermanentMailError, match="malformed address"):
        await asyncio.to_thread(mailer.send, a_mail(to))

    assert smtp.asked == {}


async def test_a_session_the_server_refuses_is_temporary_not_a_refusal_of_the_mail(
    smtp: ScriptedSmtpServer,
) -> None:
    # credentials for a server without AUTH: our configuration, not the mail, is wrong
    host = smtp.url.removeprefix("smtp://")
    mailer = SmtpMailer(f"smtp://user:secret@{host}", SENDER, timeout=5)

    with pytest.raises(TemporaryMailError) as raised:
        await asyncio.to_thread(mailer.send, a_mail(address("taro")))

    assert raised.value.server
    assert smtp.delivered == []


@pytest.mark.parametrize(
    ("failure", "kind", "code"),
    [
        (smtplib.SMTPDataError(554, b"5.6.0 message content rejected"), PermanentMailError, 554),
        (smtplib.SMTPDataError(452, b"4.3.1 insufficient storage"), TemporaryMailError, 452),
        (
            smtplib.SMTPSenderRefused(553, b"5.7.1 sender refused", "x@y.jp"),
            PermanentMailError,
            553,
        ),
        (smtplib.SMTPSenderRefused(421, b"4.4.2 timeout", "x@y.jp"), TemporaryMailError, 421),
        (smtplib.SMTPResponseException(552, b"5.3.4 too big"), PermanentMailError, 552),
        (smtplib.SMTPRecipientsRefused({"a@b.jp": (550, b"no")}), PermanentMailError, 550),
        (
            smtplib.SMTPRecipientsRefused({"a@b.jp": (550, b"no"), "c@d.jp": (450, b"busy")}),
            TemporaryMailError,
            450,
        ),
        (smtplib.SMTPServerDisconnected("gone"), TemporaryMailError, None),
        (TimeoutError(), TemporaryMailError, None),
    ],
)
def test_smtp_failures_are_permanent_for_5xx_and_temporary_for_4xx_and_lost_connections(
    failure: BaseException, kind: type[Exception], code: int | None
) -> None:
    classified = smtp_failure(failure)

    assert type(classified) is kind
    assert classified.code == code


def test_a_recipient_is_shown_masked() -> None:
    assert mask_address("taro.yamada@example.jp") == "ta***@example.jp"
    assert mask_address("ab@example.jp") == "a***@example.jp"


def test_retry_delays_grow_and_are_capped() -> None:
    retry = MailRetry(first=10, cap=3600)

    assert [retry.delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry.delay(9) == 2560
    assert retry.delay(10) == retry.delay(500) == 3600


# --- the outbox and its sender ------------------------------------------------------------


async def test_a_refused_recipient_is_parked_and_the_mails_after_it_are_delivered(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    gone, first, second = address("gone"), address("hanako"), address("jiro")
    smtp.refuse(gone)
    refused = a_mail(gone, "登録完了")
    await outbox.enqueue([refused, a_mail(first), a_mail(second)])

    await send_until_idle(sender_for(outbox, mailer))

    assert len(smtp.delivered_to(first)) == len(smtp.delivered_to(second)) == 1
    assert smtp.delivered_to(gone) == []
    (parked,) = await outbox.parked()
    assert (parked.message_id, parked.to, parked.subject) == (refused.message_id, gone, "登録完了")
    assert parked.code == 550
    assert "User unknown" in parked.reason
    assert gone not in parked.reason
    assert parked.masked_to == mask_address(gone)
    backlog = await outbox.backlog()
    assert (backlog.queued, backlog.parked) == (0, 1)


async def test_a_deferred_recipient_is_delivered_on_a_later_try_without_holding_up_others(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    busy, other = address("busy"), address("other")
    smtp.defer(busy, times=2)
    await outbox.enqueue([a_mail(busy), a_mail(other)])
    sender = sender_for(outbox, mailer)

    await sender.send_due()

    assert len(smtp.delivered_to(other)) == 1
    assert smtp.delivered_to(busy) == []
    assert (await outbox.backlog()).queued == 1
    await send_until_idle(sender)
    assert len(smtp.delivered_to(busy)) == 1
    assert smtp.asked[busy] == 3
    assert await outbox.parked() == []


async def test_resending_a_parked_mail_after_the_mailbox_is_fixed_delivers_it(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    gone = address("gone")
    smtp.refuse(gone)
    mail = a_mail(gone)
    await outbox.enqueue([mail])
    sender = sender_for(outbox, mailer)
    await send_until_idle(sender)
    assert len(await outbox.parked()) == 1

    smtp.accept(gone)
    assert await outbox.resend([mail.message_id]) == [mail.message_id]
    await send_until_idle(sender)

    (delivered,) = smtp.delivered_to(gone)
    assert delivered["Message-ID"] == f"<{mail.message_id}@cloudpbx.example.jp>"
    assert await outbox.parked() == []
    assert await outbox.resend(None) == []


async def test_resend_all_puts_every_parked_mail_back(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    gone = [address("gone"), address("gone")]
    for to in gone:
        smtp.refuse(to)
    mails = [a_mail(to) for to in gone]
    await outbox.enqueue(mails)
    sender = sender_for(outbox, mailer)
    await send_until_idle(sender)
    for to in gone:
        smtp.accept(to)

    assert sorted(await outbox.resend(None)) == sorted(m.message_id for m in mails)
    await send_until_idle(sender)

    assert [len(smtp.delivered_to(to)) for to in gone] == [1, 1]


async def test_a_dropped_mail_is_neither_parked_nor_sent_nor_queued_again(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    gone = address("gone")
    smtp.refuse(gone)
    mail = a_mail(gone)
    await outbox.enqueue([mail])
    sender = sender_for(outbox, mailer)
    await send_until_idle(sender)

    assert await outbox.drop(mail.message_id)
    assert not await outbox.drop(mail.message_id)
    assert await outbox.parked() == []
    assert await outbox.resend([mail.message_id]) == []
    assert await outbox.enqueue([mail]) == 0
    smtp.accept(gone)
    await send_until_idle(sender)
    assert smtp.delivered_to(gone) == []


async def test_enqueueing_the_same_message_id_again_sends_it_once(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    to = address("taro")
    mail = a_mail(to)
    assert await outbox.enqueue([mail, mail]) == 1
    sender = sender_for(outbox, mailer)
    await send_until_idle(sender)

    assert await outbox.enqueue([mail]) == 0  # the follower read the event again after a crash
    await send_until_idle(sender)

    assert len(smtp.delivered_to(to)) == 1


async def test_a_mail_claimed_by_a_sender_that_died_is_sent_once_its_lease_ran_out(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    to = address("taro")
    await outbox.enqueue([a_mail(to)])
    assert len(await outbox.claim(5, lease=0.3)) == 1  # ...and the claiming sender died
    survivor = sender_for(outbox, mailer)

    assert await survivor.send_due() == 0
    await asyncio.sleep(0.35)
    await send_until_idle(survivor)

    assert len(smtp.delivered_to(to)) == 1


class StuckMailer:
    """A mailer whose server never answers (until ``go`` is set)."""

    def __init__(self) -> None:
        self.entered, self.go = threading.Event(), threading.Event()

    def send(self, mail: Mail) -> None:
        self.entered.set()
        self.go.wait(5)


async def test_a_sender_stopped_mid_send_gives_its_mails_back_at_once(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    recipients = [address("taro"), address("hanako")]
    await outbox.enqueue([a_mail(to) for to in recipients])
    stuck = StuckMailer()
    stopping = asyncio.create_task(sender_for(outbox, stuck, lease=300).send_due())
    await asyncio.to_thread(stuck.entered.wait, 5)

    stopping.cancel()
    await asyncio.gather(stopping, return_exceptions=True)
    stuck.go.set()

    assert await sender_for(outbox, mailer).send_due() == 2  # not 300 s later
    assert [len(smtp.delivered_to(to)) for to in recipients] == [1, 1]


async def test_logs_name_the_message_id_and_code_but_never_the_address(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    gone, busy, fine = address("gone"), address("busy"), address("fine")
    smtp.refuse(gone)
    smtp.defer(busy)
    mails = [a_mail(gone), a_mail(busy), a_mail(fine)]
    await outbox.enqueue(mails)

    with capture_logs() as logs:
        await send_until_idle(sender_for(outbox, mailer))

    assert {entry["event"] for entry in logs} >= {"mail_sent", "mail_parked", "mail_deferred"}
    parked = next(entry for entry in logs if entry["event"] == "mail_parked")
    assert (parked["message_id"], parked["smtp_code"]) == (mails[0].message_id, 550)
    written = json.dumps(logs, ensure_ascii=False, default=str)
    for to in (gone, busy, fine):
        assert to not in written
        assert to.partition("@")[0] not in written
    assert "山田" not in written


async def test_each_send_park_and_retry_logs_the_mail_s_correlation_id(
    outbox: MailOutbox, smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    gone, busy, fine = address("gone"), address("busy"), address("fine")
    smtp.refuse(gone)
    smtp.defer(busy)
    mails = [
        dataclasses.replace(a_mail(to), correlation_id=f"corr-{to.partition('@')[0]}")
        for to in (gone, busy, fine)
    ]
    await outbox.enqueue(mails)

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await send_until_idle(sender_for(outbox, mailer))

    expected = {mail.message_id: mail.correlation_id for mail in mails}
    outcomes = [e for e in logs if e["event"] in ("mail_sent", "mail_parked", "mail_deferred")]
    assert {e["event"] for e in outcomes} == {"mail_sent", "mail_parked", "mail_deferred"}
    for entry in outcomes:
        assert entry["correlation_id"] == expected[entry["message_id"]], entry


async def test_a_mail_enqueued_before_a_crash_is_sent_by_a_new_sender(
    schema_pool: tuple[str, asyncpg.Pool],
    database_url: str,
    smtp: ScriptedSmtpServer,
    mailer: SmtpMailer,
) -> None:
    schema, pool = schema_pool
    to = address("taro")
    before = PostgresMailOutbox(pool, schema, KEY)
    await before.create_table()
    await before.enqueue([a_mail(to)])
    # the process dies here: nothing sent; a new one starts with its own pool
    restarted_pool = await create_pool(database_url, schema)
    try:
        after = PostgresMailOutbox(restarted_pool, schema, KEY)
        await after.create_table()
        await send_until_idle(sender_for(after, mailer))
    finally:
        await restarted_pool.close()

    assert len(smtp.delivered_to(to)) == 1


async def test_mail_content_is_stored_encrypted_and_erased_once_sent(
    schema_pool: tuple[str, asyncpg.Pool], smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    schema, pool = schema_pool
    stored = PostgresMailOutbox(pool, schema, KEY)
    await stored.create_table()
    to = address("taro")
    mail = a_mail(to, "件名テスト")
    await stored.enqueue([mail])

    async with pool.acquire() as conn:
        content = bytes(await conn.fetchval(f"SELECT content FROM {stored.table}"))
    for plain in (to, "件名テスト", "山田 太郎"):
        assert plain.encode() not in content
        assert json.dumps(plain).encode() not in content
    await send_until_idle(sender_for(stored, mailer))
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT state, content FROM {stored.table}")
    assert row is not None
    assert (row["state"], row["content"]) == ("sent", None)
    assert len(smtp.delivered_to(to)) == 1


async def test_a_mail_sealed_with_another_key_is_parked_as_unreadable_not_retried(
    schema_pool: tuple[str, asyncpg.Pool], smtp: ScriptedSmtpServer, mailer: SmtpMailer
) -> None:
    schema, pool = schema_pool
    stored = PostgresMailOutbox(pool, schema, KEY)
    await stored.create_table()
    unreadable, fine = a_mail(address("old")), a_mail(address("new"))
    await stored.enqueue([unreadable])
    rekeyed = PostgresMailOutbox(pool, schema, bytes(32))
    await rekeyed.enqueue([fine])

    await send_until_idle(sender_for(rekeyed, mailer))

    assert len(smtp.delivered_to(fine.to)) == 1
    (parked,) = await rekeyed.parked()
    assert (parked.message_id, parked.subject, parked.code) == (
        unreadable.message_id,
        "(unreadable)",
        None,
    )
    assert "another key" in parked.reason
    # with the right key again, the operator can send it after all
    assert await stored.resend(None) == [unreadable.message_id]
    await send_until_idle(sender_for(stored, mailer))
    assert len(smtp.delivered_to(unreadable.to)) == 1


async def test_two_senders_never_claim_the_same_mail(
    schema_pool: tuple[str, asyncpg.Pool],
) -> None:
    schema, pool = schema_pool
    stored = PostgresMailOutbox(pool, schema, KEY)
    await stored.create_table()
    await stored.enqueue([a_mail(address("x")) for _ in range(20)])

    first, second = await asyncio.gather(stored.claim(15, 60), stored.claim(15, 60))

    ids = [q.mail.message_id for q in first + second]
    assert len(ids) == len(set(ids)) == 20


# --- a service's outbox: the server down, readiness, metrics --------------------------------


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.fixture(params=["memory", "postgres"])
async def wired(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: ScriptedSmtpServer
) -> AsyncIterator[tuple[ServiceRuntime, Edge, MailOutbox]]:
    pool = None
    service = f"mailsvc{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path, mail_retry_first_seconds=0.05, mail_retry_max_seconds=0.2
    )
    if request.param == "postgres":
        database_url = request.getfixturevalue("database_url")
        pool = await create_pool(database_url, service)
    infra = Infrastructure(
        settings=settings,
        database_url=None,
        bus=InMemoryBus(),
        mailer=SmtpMailer(smtp.url, SENDER, timeout=2),
        cipher_key=new_cipher_key(),
    )
    edge = Edge()
    runtime = ServiceRuntime(service, create_app(service, title="mail test", edge=edge))
    outbox = await wire_mail_outbox(infra, runtime, edge, pool)
    try:
        yield runtime, edge, outbox
    finally:
        if pool is not None:
            async with pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{service}" CASCADE')
            await pool.close()


async def test_when_the_server_is_down_mails_wait_and_all_are_delivered_once_it_is_back(
    wired: tuple[ServiceRuntime, Edge, MailOutbox], smtp: ScriptedSmtpServer
) -> None:
    runtime, _, outbox = wired
    service = runtime.name
    app: FastAPI = runtime.api
    (loop,) = runtime.loops
    await smtp.stop()
    recipients = [address(f"c{n}") for n in range(3)]
    task = asyncio.create_task(loop())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            await outbox.enqueue([a_mail(to) for to in recipients])

            async def tried_a_few_times() -> bool:
                return sample("pbx_mail_failures_total", service=service, kind="temporary") >= 2

            await until(tried_a_few_times)
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            checks = ready.json()["checks"]
            assert checks["mail_backlog"]["value"]["queued"] == 3
            assert checks["mail_backlog"]["value"]["oldest_age_seconds"] >= 0
            assert checks["mail_parked"]["value"] == 0
            metrics = (await client.get("/metrics")).text
            assert f'pbx_mail_backlog{{service="{service}"}} 3.0' in metrics
            assert await outbox.parked() == []

            await smtp.start()

            async def all_delivered() -> bool:
                return all(smtp.delivered_to(to) for to in recipients)

            await until(all_delivered)
            await until(lambda: _queued_is(outbox, 0))
            checks = (await client.get("/readyz")).json()["checks"]
            assert checks["mail_backlog"]["value"] == {"queued": 0, "oldest_age_seconds": None}
            metrics = (await client.get("/metrics")).text
            assert f'pbx_mail_sent_total{{service="{service}"}} 3.0' in metrics
            assert f'pbx_mail_parked{{service="{service}"}} 0.0' in metrics
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [len(smtp.delivered_to(to)) for to in recipients] == [1, 1, 1]


async def _queued_is(outbox: MailOutbox, count: int) -> bool:
    return (await outbox.backlog()).queued == count


async def test_a_parked_mail_shows_on_readyz_and_metrics_but_the_service_stays_ready(
    wired: tuple[ServiceRuntime, Edge, MailOutbox], smtp: ScriptedSmtpServer
) -> None:
    runtime, _, outbox = wired
    service = runtime.name
    (loop,) = runtime.loops
    gone, fine = address("gone"), address("fine")
    smtp.refuse(gone)
    task = asyncio.create_task(loop())
    try:
        await outbox.enqueue([a_mail(gone), a_mail(fine)])
        await until(lambda: _parked_is(outbox, 1))
        await until(lambda: _queued_is(outbox, 0))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runtime.api), base_url="http://t"
        ) as client:
            ready = await client.get("/readyz")
            metrics = (await client.get("/metrics")).text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert ready.status_code == 200
    assert ready.json()["checks"]["mail_parked"]["value"] == 1
    assert f'pbx_mail_parked{{service="{service}"}} 1.0' in metrics
    assert f'pbx_mail_failures_total{{kind="permanent",service="{service}"}} 1.0' in metrics
    assert len(smtp.delivered_to(fine)) == 1


async def _parked_is(outbox: MailOutbox, count: int) -> bool:
    return (await outbox.backlog()).parked == count


async def test_a_maildir_mailer_behind_the_outbox_writes_each_mail_once(
    outbox: MailOutbox, tmp_path: Path
) -> None:
    maildir = MaildirMailer(tmp_path / "mail", SENDER)
    mails = [a_mail(address("taro")), a_mail(address("hanako"))]
    await outbox.enqueue(mails)
    await outbox.enqueue(mails)

    await send_until_idle(sender_for(outbox, maildir))

    assert sorted(m["To"] for m in maildir.messages()) == sorted(m.to for m in mails)
