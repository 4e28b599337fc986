"""A relay in a process of its own, for the leadership tests (``test_relay_leadership``):
it follows the ``Signup`` log in ``<schema>`` and "publishes" each message by appending
``<pid> <message_id>`` to a file (flushed), slowly, in small batches, so a test can kill it
mid-stream. Run as ``python -c 'import leadership_worker; leadership_worker.main()'`` with
this folder on the path (the aggregate's topic is then the same in the test)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.identity import AccountRegistered
from pbx_events.relay import FollowerSettings, OutboxRelay
from pbx_events.store import ServiceApplication, postgres_env


class Signup(Aggregate):
    @event("Registered")
    def __init__(self, login_id: str) -> None:
        self.login_id = login_id


class SignupApp(ServiceApplication):
    def register(self, login_id: str) -> UUID:
        signup = Signup(login_id)
        self.save(signup)
        return signup.id


def to_integration(domain_event: Any) -> Sequence[IntegrationEvent]:
    if isinstance(domain_event, Signup.Registered):
        return [
            AccountRegistered(
                account_id=domain_event.originator_id,
                login_id=domain_event.login_id,
                contractor_type="individual",
                email_domain_class="business",
                screening_phone_is_fixed_line=True,
                registered_at=datetime.now(UTC),
            )
        ]
    return []


class FileBus:
    """Appends what it publishes to a file, a little slowly (a broker's round trip)."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def publish(self, messages: Sequence[Message]) -> None:
        await asyncio.sleep(0.05)
        await asyncio.to_thread(self._append, [m.message_id for m in messages])

    def _append(self, message_ids: list[str]) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.writelines(f"{os.getpid()} {message_id}\n" for message_id in message_ids)
            out.flush()
            os.fsync(out.fileno())


def main() -> None:
    database_url, schema, path = sys.argv[1:4]
    app = SignupApp(postgres_env(database_url, schema))
    settings = FollowerSettings(batch_size=5, poll_interval=0.1, leader_check_interval=0.2)
    relay = OutboxRelay(app, "signups", to_integration, FileBus(path), settings)  # type: ignore[arg-type]
    asyncio.run(relay.run())
