"""The mail outbox in the service's own schema (``<schema>.mail_outbox``).

The mail's content (address, subject, body: personal data) is stored AES-GCM
encrypted, bound to its message id, and erased once the mail is sent or
dropped; what stays is the message id, the state, the SMTP code and a short
reason (addresses blanked) and the times. Claims use ``FOR UPDATE SKIP
LOCKED`` so that replicas never claim the same mail at once.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pbx_kit.mail import Mail
from pbx_kit.mail_outbox import MailBacklog, ParkedMail, QueuedMail

#: the reason of a mail parked because its content cannot be opened with this key
UNREADABLE = "unreadable: sealed with another key (PBX_CIPHER_KEY changed?)"


class PostgresMailOutbox:
    """The outbox in the service's own schema; content sealed with an AES-GCM key."""

    def __init__(self, pool: asyncpg.Pool, schema: str, key: bytes) -> None:
        self.pool = pool
        self.table = f'"{schema}".mail_outbox'
        self._index = f"{schema}_mail_outbox_pending"
        self._cipher = AESGCM(key)
        self.wake = asyncio.Event()

    async def create_table(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
                    message_id text PRIMARY KEY,
                    state text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'sent', 'parked', 'dropped')),
                    content bytea,
                    attempts integer NOT NULL DEFAULT 0,
                    enqueued_at timestamptz NOT NULL DEFAULT now(),
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    last_code integer,
                    last_reason text NOT NULL DEFAULT '',
                    parked_at timestamptz,
                    sent_at timestamptz)"""
            )
            await conn.execute(
                f'CREATE INDEX IF NOT EXISTS "{self._index}" ON {self.table} '
                "(state, next_attempt_at) WHERE state IN ('queued', 'parked')"
            )

    def _seal(self, mail: Mail) -> bytes:
        nonce = os.urandom(12)
        fields = {"to": mail.to, "subject": mail.subject, "body": mail.body}
        if mail.correlation_id is not None:
            fields["correlation_id"] = mail.correlation_id
        plain = json.dumps(fields).encode()
        return nonce + self._cipher.encrypt(nonce, plain, mail.message_id.encode())

    def _open(self, message_id: str, sealed: bytes) -> Mail:
        plain = self._cipher.decrypt(sealed[:12], sealed[12:], message_id.encode())
        fields = json.loads(plain)
        correlation_id = fields.get("correlation_id")
        return Mail(
            fields["to"],
            fields["subject"],
            fields["body"],
            message_id,
            correlation_id if isinstance(correlation_id, str) else None,
        )

    async def enqueue(self, mails: Sequence[Mail]) -> int:
        unique = list({m.message_id: m for m in mails}.values())
        if not unique:
            return 0
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"INSERT INTO {self.table} (message_id, content) "
                "SELECT * FROM unnest($1::text[], $2::bytea[]) "
                "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
                [m.message_id for m in unique],
                [self._seal(m) for m in unique],
            )
        if rows:
            self.wake.set()
        return len(rows)

    async def claim(self, limit: int, lease: float) -> list[QueuedMail]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""WITH due AS (
                        SELECT message_id FROM {self.table}
                        WHERE state = 'queued' AND next_attempt_at <= now()
                        ORDER BY next_attempt_at, enqueued_at LIMIT $1
                        FOR UPDATE SKIP LOCKED)
                    UPDATE {self.table} AS t
                    SET attempts = t.attempts + 1,
                        next_attempt_at = now() + make_interval(secs => $2)
                    FROM due WHERE t.message_id = due.message_id
                    RETURNING t.message_id, t.content, t.attempts, t.enqueued_at""",
                limit,
                float(lease),
            )
        claimed = []
        for row in sorted(rows, key=lambda r: r["enqueued_at"]):
            try:
                mail = self._open(row["message_id"], row["content"])
            except (InvalidTag, ValueError, KeyError, TypeError):
                # sealed with another key (or damaged): kept for an operator, never retried blindly
                await self.park(row["message_id"], None, UNREADABLE)
                continue
            claimed.append(QueuedMail(mail, row["attempts"]))
        return claimed

    async def release(self, message_ids: Sequence[str]) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {self.table} SET next_attempt_at = now() "
                "WHERE message_id = ANY($1::text[]) AND state = 'queued'",
                list(message_ids),
            )

    async def mark_sent(self, message_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {self.table} SET state = 'sent', sent_at = now(), content = NULL "
                "WHERE message_id = $1 AND state = 'queued'",
                message_id,
            )

    async def retry_later(
        self, message_id: str, delay: float, code: int | None, reason: str
    ) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {self.table} SET next_attempt_at = now() + make_interval(secs => $2), "
                "last_code = $3, last_reason = $4 WHERE message_id = $1 AND state = 'queued'",
                message_id,
                float(delay),
                code,
                reason,
            )

    async def park(self, message_id: str, code: int | None, reason: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {self.table} SET state = 'parked', parked_at = now(), last_code = $2, "
                "last_reason = $3 WHERE message_id = $1 AND state = 'queued'",
                message_id,
                code,
                reason,
            )

    async def parked(self) -> list[ParkedMail]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT message_id, content, last_code, last_reason, parked_at, attempts "
                f"FROM {self.table} WHERE state = 'parked' ORDER BY parked_at, message_id"
            )
        result = []
        for row in rows:
            try:
                mail = self._open(row["message_id"], row["content"])
            except (InvalidTag, ValueError, KeyError, TypeError):
                mail = Mail("", "(unreadable)", "", row["message_id"])
            result.append(
                ParkedMail(
                    row["message_id"],
                    mail.to,
                    mail.subject,
                    row["last_code"],
                    row["last_reason"],
                    row["parked_at"],
                    row["attempts"],
                )
            )
        return result

    async def resend(self, message_ids: Sequence[str] | None) -> list[str]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"UPDATE {self.table} SET state = 'queued', next_attempt_at = now(), "
                "attempts = 0, parked_at = NULL "
                "WHERE state = 'parked' AND ($1::text[] IS NULL OR message_id = ANY($1::text[])) "
                "RETURNING message_id",
                None if message_ids is None else list(message_ids),
            )
        if rows:
            self.wake.set()
        return sorted(r["message_id"] for r in rows)

    async def drop(self, message_id: str) -> bool:
        async with self.pool.acquire() as conn:
            dropped = await conn.fetchval(
                f"UPDATE {self.table} SET state = 'dropped', content = NULL "
                "WHERE message_id = $1 AND state IN ('queued', 'parked') RETURNING 1",
                message_id,
            )
        return bool(dropped)

    async def backlog(self) -> MailBacklog:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"""SELECT count(*) FILTER (WHERE state = 'queued') AS queued,
                    EXTRACT(EPOCH FROM now() - min(enqueued_at) FILTER (WHERE state = 'queued'))
                        ::float8 AS oldest,
                    count(*) FILTER (WHERE state = 'parked') AS parked
                FROM {self.table} WHERE state IN ('queued', 'parked')"""
            )
        assert row is not None
        return MailBacklog(row["queued"], row["oldest"], row["parked"])

    async def next_due_in(self) -> float | None:
        async with self.pool.acquire() as conn:
            due: float | None = await conn.fetchval(
                f"SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())::float8 "
                f"FROM {self.table} WHERE state = 'queued'"
            )
        return due
