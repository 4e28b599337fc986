"""The mail outbox: mails wait here, keyed by their stable ``Message-ID``, until sent.

A log follower *enqueues* (re-enqueueing after a crash is a no-op, so its
position can be saved once the enqueue is committed); a sender
(``pbx_kit.mail_sender``) claims the due mails and hands them to the mailer.
Each mail goes its own way: sent; put back with a growing delay after a
temporary failure; or *parked* after a permanent refusal, kept (with the SMTP
code, a short reason and when) until an operator resends or drops it. No mail
waits for another.

A claim leases the mail to one sender (replicas may run several) for ``lease``
seconds; a sender that dies mid-send leaves it to be claimed again after the
lease: at least once, never lost. ``MemoryMailOutbox`` is the in-memory
stack's; ``pbx_kit.mail_outbox_postgres`` holds the services' table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from pbx_kit.mail import Mail, mask_address

#: a mail's states: waiting to be (re)sent, handed over, refused for good, given up by an operator
QUEUED, SENT, PARKED, DROPPED = "queued", "sent", "parked", "dropped"


@dataclass(frozen=True)
class QueuedMail:
    """A mail claimed for sending, with how many times it has been claimed so far."""

    mail: Mail
    attempts: int


@dataclass(frozen=True)
class ParkedMail:
    """A mail the server refused for good, waiting for an operator."""

    message_id: str
    to: str
    subject: str
    code: int | None
    reason: str
    parked_at: datetime
    attempts: int

    @property
    def masked_to(self) -> str:
        return mask_address(self.to)


@dataclass(frozen=True)
class MailBacklog:
    #: mails not sent yet (parked ones not counted)
    queued: int
    #: seconds since the oldest of them was queued (None: nothing queued)
    oldest_age_seconds: float | None
    parked: int

    def figure(self) -> dict[str, object]:
        """What ``/readyz`` shows."""
        oldest = None if self.oldest_age_seconds is None else round(self.oldest_age_seconds, 1)
        return {"queued": self.queued, "oldest_age_seconds": oldest}


class MailOutbox(Protocol):
    #: set when mails were enqueued or put back (the sender in this process wakes at once)
    wake: asyncio.Event

    async def enqueue(self, mails: Sequence[Mail]) -> int:
        """Queue the mails not queued before (by message id); returns how many were new."""
        ...

    async def claim(self, limit: int, lease: float) -> list[QueuedMail]:
        """Up to ``limit`` due mails, oldest first, leased to the caller for ``lease`` s."""
        ...

    async def release(self, message_ids: Sequence[str]) -> None:
        """Give claimed mails back, due at once (a sender stopping before it sent them)."""
        ...

    async def mark_sent(self, message_id: str) -> None: ...

    async def retry_later(
        self, message_id: str, delay: float, code: int | None, reason: str
    ) -> None: ...

    async def park(self, message_id: str, code: int | None, reason: str) -> None: ...

    async def parked(self) -> list[ParkedMail]: ...

    async def resend(self, message_ids: Sequence[str] | None) -> list[str]:
        """Put parked mails (``None``: all of them) back in the queue; returns their ids."""
        ...

    async def drop(self, message_id: str) -> bool:
        """Give up a parked or queued mail (its content is erased); False if there is none."""
        ...

    async def backlog(self) -> MailBacklog: ...

    async def next_due_in(self) -> float | None:
        """Seconds until the next queued mail is due (<= 0: now; None: nothing queued)."""
        ...


@dataclass
class _Row:
    mail: Mail | None
    state: str
    enqueued_at: float
    next_attempt_at: float
    attempts: int = 0
    code: int | None = None
    reason: str = ""
    parked_at: datetime | None = None


class MemoryMailOutbox:
    """The outbox of the in-memory stack (unit and flow tests): the same rules, no table."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self._rows: dict[str, _Row] = {}

    async def enqueue(self, mails: Sequence[Mail]) -> int:
        now, new = time.time(), 0
        for mail in mails:
            if mail.message_id not in self._rows:
                self._rows[mail.message_id] = _Row(mail, QUEUED, now, now)
                new += 1
        if new:
            self.wake.set()
        return new

    async def claim(self, limit: int, lease: float) -> list[QueuedMail]:
        now = time.time()
        due = sorted(
            (r for r in self._rows.values() if r.state == QUEUED and r.next_attempt_at <= now),
            key=lambda r: (r.next_attempt_at, r.enqueued_at),
        )[:limit]
        claimed = []
        for row in due:
            row.attempts += 1
            row.next_attempt_at = now + lease
            assert row.mail is not None
            claimed.append(QueuedMail(row.mail, row.attempts))
        return claimed

    def _queued(self, message_id: str) -> _Row | None:
        row = self._rows.get(message_id)
        return row if row is not None and row.state == QUEUED else None

    async def release(self, message_ids: Sequence[str]) -> None:
        for message_id in message_ids:
            if (row := self._queued(message_id)) is not None:
                row.next_attempt_at = time.time()
        self.wake.set()

    async def mark_sent(self, message_id: str) -> None:
        if (row := self._queued(message_id)) is not None:
            row.state, row.mail = SENT, None

    async def retry_later(
        self, message_id: str, delay: float, code: int | None, reason: str
    ) -> None:
        if (row := self._queued(message_id)) is not None:
            row.next_attempt_at, row.code, row.reason = time.time() + delay, code, reason

    async def park(self, message_id: str, code: int | None, reason: str) -> None:
        if (row := self._queued(message_id)) is not None:
            row.state, row.code, row.reason = PARKED, code, reason
            row.parked_at = datetime.now(UTC)

    async def parked(self) -> list[ParkedMail]:
        rows = [(mid, r) for mid, r in self._rows.items() if r.state == PARKED]
        return [
            ParkedMail(
                mid,
                r.mail.to if r.mail else "",
                r.mail.subject if r.mail else "",
                r.code,
                r.reason,
                r.parked_at or datetime.now(UTC),
                r.attempts,
            )
            for mid, r in sorted(rows, key=lambda item: item[1].parked_at or datetime.now(UTC))
        ]

    async def resend(self, message_ids: Sequence[str] | None) -> list[str]:
        chosen = []
        for mid, row in self._rows.items():
            if row.state == PARKED and (message_ids is None or mid in message_ids):
                self._rows[mid] = replace(
                    row, state=QUEUED, next_attempt_at=time.time(), attempts=0, parked_at=None
                )
                chosen.append(mid)
        if chosen:
            self.wake.set()
        return chosen

    async def drop(self, message_id: str) -> bool:
        row = self._rows.get(message_id)
        if row is None or row.state not in (QUEUED, PARKED):
            return False
        row.state, row.mail = DROPPED, None
        return True

    async def backlog(self) -> MailBacklog:
        queued = [r.enqueued_at for r in self._rows.values() if r.state == QUEUED]
        parked = sum(1 for r in self._rows.values() if r.state == PARKED)
        oldest = time.time() - min(queued) if queued else None
        return MailBacklog(len(queued), oldest, parked)

    async def next_due_in(self) -> float | None:
        due = [r.next_attempt_at for r in self._rows.values() if r.state == QUEUED]
        return min(due) - time.time() if due else None
