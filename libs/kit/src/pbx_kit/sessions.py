"""Ended sessions: every service refuses an account's access tokens issued before its
sessions ended (a password change or reset, or "log out everywhere").

Identity publishes ``identity.SessionsEnded.v1`` with the account's new token version.
Each service consumes it on its own queue (``<service>.sessions-ended``) and keeps, per
account, the lowest token version it still accepts: a table in its own schema
(``session_floors``), or a dict on the in-memory stack. A token whose ``ver`` claim is
below the floor is refused with 401 ``invalid_token`` by ``pbx_kit.auth.current_caller``.

Applying a message is ``floor = max(floor, version)``: a repeat, a redelivery or an older
message arriving after a newer one changes nothing, so the effect is exactly once without
an inbox; and every replica of a service reads the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import asyncpg
import structlog

from pbx_events.bus import Bus, Delivery, Subscription
from pbx_events.envelope import parse
from pbx_events.identity import SessionsEnded

log = structlog.get_logger("pbx.sessions")

#: the queue's name after the service's name (``wallet.sessions-ended``)
QUEUE_SUFFIX = "sessions-ended"
ROUTING_KEYS: Sequence[str] = (SessionsEnded.type_name(),)


def sessions_queue(service: str, prefix: str = "") -> str:
    """The service's queue of ended sessions (``prefix`` + ``<service>.sessions-ended``)."""
    return f"{prefix}{service}.{QUEUE_SUFFIX}"


class SessionFloors(Protocol):
    async def raise_floor(self, subject: str, token_version: int, ended_at: datetime) -> None:
        """Refuse the subject's tokens below ``token_version`` (never lowers the floor)."""
        ...

    async def floor(self, subject: str) -> int:
        """The lowest token version still accepted for the subject (0: every one)."""
        ...


class MemorySessionFloors:
    """The floors of the in-memory stack (one process)."""

    def __init__(self) -> None:
        self._floors: dict[str, int] = {}

    async def raise_floor(self, subject: str, token_version: int, ended_at: datetime) -> None:
        self._floors[subject] = max(self._floors.get(subject, 0), token_version)

    async def floor(self, subject: str) -> int:
        return self._floors.get(subject, 0)


class PostgresSessionFloors:
    """The floors in the service's schema, shared by every replica of the service."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create_table(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS session_floors ("
                " subject text PRIMARY KEY,"
                " token_version integer NOT NULL,"
                " ended_at timestamptz NOT NULL)"
            )

    async def raise_floor(self, subject: str, token_version: int, ended_at: datetime) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO session_floors (subject, token_version, ended_at) "
                "VALUES ($1, $2, $3) ON CONFLICT (subject) DO UPDATE SET "
                "token_version = GREATEST(session_floors.token_version, EXCLUDED.token_version),"
                " ended_at = GREATEST(session_floors.ended_at, EXCLUDED.ended_at)",
                subject,
                token_version,
                ended_at,
            )

    async def floor(self, subject: str) -> int:
        async with self.pool.acquire() as conn:
            value = await conn.fetchval(
                "SELECT token_version FROM session_floors WHERE subject = $1", subject
            )
        return int(value) if value is not None else 0


async def subscribe_session_ends(
    bus: Bus, service: str, floors: SessionFloors, prefix: str = ""
) -> Subscription:
    """Consume identity's ``SessionsEnded`` on the service's own queue into ``floors``."""

    async def on_sessions_ended(delivery: Delivery) -> None:
        event = parse(delivery.message)
        if not isinstance(event, SessionsEnded):
            raise TypeError(f"{delivery.queue} got {delivery.message.type}")
        await floors.raise_floor(str(event.account_id), event.token_version, event.ended_at)
        log.info(
            "sessions_ended_applied",
            account_id=str(event.account_id),
            token_version=event.token_version,
            reason=event.reason,
            message_id=delivery.message.message_id,
        )

    return await bus.subscribe(sessions_queue(service, prefix), ROUTING_KEYS, on_sessions_ended)
