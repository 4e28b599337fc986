"""``./pbx admin mail parked|resend|drop``: an operator sees the mails the server refused
for good (recipient masked) and sends them again or gives them up, on real PostgreSQL
(``PBX_TEST_DATABASE_URL``; a failure without it when ``PBX_REQUIRE_INFRA=1``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx_cli.__main__ import main
from pbx_events.store import new_cipher_key
from pbx_kit.db import create_pool
from pbx_kit.mail import Mail, SmtpMailer, mask_address
from pbx_kit.mail_outbox_postgres import PostgresMailOutbox
from pbx_kit.mail_sender import MailRetry, MailSender
from pbx_kit.runtime import open_infrastructure
from pbx_kit.settings import Settings
from pbx_kit.testing_smtp import ScriptedSmtpServer

pytestmark = pytest.mark.infra

SUBJECT = "クラウドPBXお申し込みありがとうございました"


@pytest.fixture
async def smtp() -> AsyncIterator[ScriptedSmtpServer]:
    server = ScriptedSmtpServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def outbox(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[PostgresMailOutbox]:
    """Identity's outbox, on the database and with the key the command line opens."""
    cipher_key = new_cipher_key()
    for name in ("PBX_AMQP_URL", "PBX_JWT_PRIVATE_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PBX_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("PBX_CIPHER_KEY", cipher_key)
    monkeypatch.setenv("PBX_DATA_DIR", str(tmp_path))
    infra = open_infrastructure(Settings())
    pool = await create_pool(fresh_database_url, "identity")
    stored = PostgresMailOutbox(pool, "identity", infra.derived_key("mail-outbox"))
    await stored.create_table()
    yield stored
    await pool.close()


def a_mail(to: str) -> Mail:
    return Mail(to, SUBJECT, "山田 太郎 様\n", f"mail-{uuid.uuid4().hex[:12]}")


async def send_all(outbox: PostgresMailOutbox, smtp: ScriptedSmtpServer) -> None:
    mailer = SmtpMailer(smtp.url, "no-reply@cloudpbx.example.jp", timeout=5)
    sender = MailSender(outbox, mailer, "identity", retry=MailRetry(0.05, 0.1))
    while await sender.send_due():
        pass


async def pbx(*args: str) -> int:
    return await asyncio.to_thread(main, ["admin", "mail", *args])


async def test_parked_lists_refused_mails_with_the_recipient_masked_and_resend_delivers(
    outbox: PostgresMailOutbox, smtp: ScriptedSmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = f"taro.{uuid.uuid4().hex[:6]}@example.jp"
    smtp.refuse(gone)
    refused, fine = a_mail(gone), a_mail("hanako@example.jp")
    await outbox.enqueue([refused, fine])
    await send_all(outbox, smtp)

    assert await pbx("parked") == 0
    listed = capsys.readouterr().out
    (line,) = [row for row in listed.splitlines() if row.startswith(refused.message_id)]
    assert line.split("\t")[2:5] == ["550", mask_address(gone), SUBJECT]
    assert gone not in listed
    assert "1 parked mail(s)" in listed

    smtp.accept(gone)
    assert await pbx("resend", refused.message_id) == 0
    assert f"queued again: {refused.message_id}" in capsys.readouterr().out
    await send_all(outbox, smtp)

    assert len(smtp.delivered_to(gone)) == 1
    assert await pbx("parked") == 0
    assert "no parked mails" in capsys.readouterr().out
    assert await pbx("resend", refused.message_id) == 1  # nothing parked under that id now


async def test_resend_all_queues_every_parked_mail_again(
    outbox: PostgresMailOutbox, smtp: ScriptedSmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = [f"gone{n}.{uuid.uuid4().hex[:6]}@example.jp" for n in range(2)]
    for to in gone:
        smtp.refuse(to)
    await outbox.enqueue([a_mail(to) for to in gone])
    await send_all(outbox, smtp)
    for to in gone:
        smtp.accept(to)

    assert await pbx("resend", "--all") == 0
    assert "2 mail(s) queued again" in capsys.readouterr().out
    await send_all(outbox, smtp)

    assert [len(smtp.delivered_to(to)) for to in gone] == [1, 1]


async def test_drop_gives_a_parked_mail_up_and_a_second_drop_is_refused(
    outbox: PostgresMailOutbox, smtp: ScriptedSmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = f"gone.{uuid.uuid4().hex[:6]}@example.jp"
    smtp.refuse(gone)
    mail = a_mail(gone)
    await outbox.enqueue([mail])
    await send_all(outbox, smtp)

    assert await pbx("drop", mail.message_id) == 0
    assert await pbx("drop", mail.message_id) == 1
    assert await outbox.parked() == []
    assert await pbx("resend", "--all") == 0
    assert "0 mail(s) queued again" in capsys.readouterr().out


def test_resend_needs_a_message_id_or_all() -> None:
    with pytest.raises(SystemExit):
        main(["admin", "mail", "resend"])
    with pytest.raises(SystemExit):
        main(["admin", "mail", "resend", "mail-1", "--all"])
