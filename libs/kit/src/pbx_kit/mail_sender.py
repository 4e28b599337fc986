"""The mail sender: hands the outbox's due mails to the mailer, each on its own.

Sent → marked sent. ``TemporaryMailError`` (4xx, server unreachable) or any
unexpected error → tried again after a growing delay (``MailRetry``), while
the other mails go on. ``PermanentMailError`` (5xx, a malformed address) →
parked for an operator (``./pbx admin mail parked|resend|drop``). When the
server itself is unreachable, the rest of the claimed mails wait too (they
would fail the same way) instead of each waiting for its own timeout.

Logs name the message id and the SMTP code only, never the address, subject
or body. ``/readyz`` shows the backlog and the parked mails as figures (a
parked mail does not make the service unready); ``/metrics`` exports them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from prometheus_client import Counter, Gauge

from pbx_kit.app import Edge
from pbx_kit.mail import Mailer, MailError, PermanentMailError, TemporaryMailError
from pbx_kit.mail_outbox import MailBacklog, MailOutbox, MemoryMailOutbox, QueuedMail
from pbx_kit.mail_outbox_postgres import PostgresMailOutbox
from pbx_kit.runtime import Infrastructure, ServiceRuntime

log = structlog.get_logger("pbx.mail")

SENT = Counter("pbx_mail_sent_total", "Mails handed over to the mail server", ["service"])
FAILURES = Counter(
    "pbx_mail_failures_total",
    "Mail sends that failed (temporary: tried again later; permanent: parked)",
    ["service", "kind"],
)
BACKLOG = Gauge("pbx_mail_backlog", "Mails queued and not sent yet", ["service"])
OLDEST = Gauge(
    "pbx_mail_backlog_oldest_seconds", "Age of the oldest mail not sent yet", ["service"]
)
PARKED = Gauge("pbx_mail_parked", "Mails refused for good, waiting for an operator", ["service"])


def _mail_log_context(queued: QueuedMail) -> contextlib.AbstractContextManager[Any]:
    """Bind the mail's correlation id (when it has one) into every log line."""
    if queued.mail.correlation_id is None:
        return contextlib.nullcontext()
    return structlog.contextvars.bound_contextvars(correlation_id=queued.mail.correlation_id)


@dataclass(frozen=True)
class MailRetry:
    """Delays after temporary failures: ``first`` doubling per attempt up to ``cap`` (s)."""

    first: float = 10.0
    cap: float = 3600.0

    def delay(self, attempts: int) -> float:
        return float(min(self.cap, self.first * 2 ** min(max(attempts - 1, 0), 40)))


class MailSender:
    def __init__(
        self,
        outbox: MailOutbox,
        mailer: Mailer,
        service: str,
        *,
        retry: MailRetry | None = None,
        batch_size: int = 5,
        lease: float = 300.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.outbox = outbox
        self.mailer = mailer
        self.service = service
        self.retry = retry or MailRetry()
        self.batch_size = batch_size
        #: longer than a batch can take (each send may run into the SMTP timeout)
        self.lease = lease
        self.poll_interval = poll_interval

    async def send_due(self) -> int:
        """Send one batch of due mails; returns how many were claimed."""
        claiming = asyncio.ensure_future(self.outbox.claim(self.batch_size, self.lease))
        try:
            claimed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # stopped while claiming: the claim may commit all the same; let it finish and
            # give its mails back at once, or they would wait out the whole lease
            with contextlib.suppress(Exception):
                taken = await claiming
                await asyncio.shield(self.outbox.release([q.mail.message_id for q in taken]))
            raise
        pending = [queued.mail.message_id for queued in claimed]
        unreachable: TemporaryMailError | None = None
        try:
            for queued in claimed:
                if unreachable is not None:
                    await self._defer(queued, unreachable, tried=False)
                else:
                    unreachable = await self._send(queued)
                pending.pop(0)
        except asyncio.CancelledError:
            # stopping: what this sender did not finish is due again at once, not after the
            # lease (the mail being sent may go out twice; its Message-ID lets that be seen)
            with contextlib.suppress(Exception):
                await asyncio.shield(self.outbox.release(pending))
            raise
        return len(claimed)

    async def _send(self, queued: QueuedMail) -> TemporaryMailError | None:
        """Send one mail and record the outcome; returns the failure if the server is down.
        Every log line meanwhile carries the mail's correlation id."""
        with _mail_log_context(queued):
            return await self._send_one(queued)

    async def _send_one(self, queued: QueuedMail) -> TemporaryMailError | None:
        try:
            await asyncio.to_thread(self.mailer.send, queued.mail)
        except PermanentMailError as exc:
            await self._park(queued, exc)
        except TemporaryMailError as exc:
            await self._defer(queued, exc, tried=True)
            return exc if exc.server else None
        except Exception as exc:
            failure = TemporaryMailError(f"failed: {type(exc).__name__}")
            await self._defer(queued, failure, tried=True)
        else:
            await self.outbox.mark_sent(queued.mail.message_id)
            SENT.labels(self.service).inc()
            log.info("mail_sent", service=self.service, message_id=queued.mail.message_id)
        return None

    async def _park(self, queued: QueuedMail, exc: MailError) -> None:
        await self.outbox.park(queued.mail.message_id, exc.code, exc.reason)
        FAILURES.labels(self.service, "permanent").inc()
        log.warning(
            "mail_parked",
            service=self.service,
            message_id=queued.mail.message_id,
            smtp_code=exc.code,
            attempts=queued.attempts,
        )

    async def _defer(self, queued: QueuedMail, exc: MailError, *, tried: bool) -> None:
        with _mail_log_context(queued):
            await self._defer_one(queued, exc, tried=tried)

    async def _defer_one(self, queued: QueuedMail, exc: MailError, *, tried: bool) -> None:
        delay = self.retry.delay(queued.attempts)
        await self.outbox.retry_later(queued.mail.message_id, delay, exc.code, exc.reason)
        if tried:
            FAILURES.labels(self.service, "temporary").inc()
        log.warning(
            "mail_deferred",
            service=self.service,
            message_id=queued.mail.message_id,
            smtp_code=exc.code,
            attempts=queued.attempts,
            retry_in=round(delay, 3),
            tried=tried,
        )

    async def refresh(self) -> MailBacklog:
        """The backlog now, also set on the gauges."""
        backlog = await self.outbox.backlog()
        BACKLOG.labels(self.service).set(backlog.queued)
        OLDEST.labels(self.service).set(backlog.oldest_age_seconds or 0.0)
        PARKED.labels(self.service).set(backlog.parked)
        return backlog

    async def run(self) -> None:
        """Send until cancelled; wakes when mails are enqueued, when one falls due, or polls."""
        while True:
            try:
                claimed = await self.send_due()
                await self.refresh()
                if claimed:
                    continue
                self.outbox.wake.clear()
                due_in = await self.outbox.next_due_in()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("mail_sender_failed", service=self.service, error=type(exc).__name__)
                await asyncio.sleep(self.poll_interval)
                continue
            wait = self.poll_interval if due_in is None else min(self.poll_interval, due_in)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outbox.wake.wait(), wait)


async def wire_mail_outbox(
    infra: Infrastructure,
    runtime: ServiceRuntime,
    edge: Edge,
    pool: asyncpg.Pool | None,
) -> MailOutbox:
    """The service's mail outbox (its table in the service's schema, or in memory), its
    sender among the runtime's loops, and its figures on ``/readyz``."""
    outbox: MailOutbox = MemoryMailOutbox()
    if pool is not None:
        stored = PostgresMailOutbox(pool, runtime.name, infra.derived_key("mail-outbox"))
        await stored.create_table()
        outbox = stored
    settings = infra.settings
    retry = MailRetry(settings.mail_retry_first_seconds, settings.mail_retry_max_seconds)
    sender = MailSender(outbox, infra.mailer, runtime.name, retry=retry)

    async def mail_backlog() -> tuple[bool, object]:
        return True, (await sender.refresh()).figure()

    async def mail_parked() -> tuple[bool, object]:
        return True, (await sender.refresh()).parked

    edge.figures["mail_backlog"] = mail_backlog
    edge.figures["mail_parked"] = mail_parked
    runtime.loops.append(sender.run)
    runtime.api.state.mail_outbox = outbox
    return outbox
