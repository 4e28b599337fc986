"""KYC end to end on both stacks: HTTP uploads, reviewers, the bus, a movable clock."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pbx_events.envelope import Message, to_message
from pbx_events.identity import AccountRegistered
from pbx_kit.testing import Stack, serving
from pbx_kit.testing_tokens import TokenMinter
from pbx_kyc.consumers import ACCOUNTS_QUEUE
from pbx_kyc.main import build
from pbx_kyc.testing import jpeg


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Screening:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtime: Any, clock: Clock) -> None:
        self.client = client
        self.infra = infra
        self.runtime = runtime
        self.clock = clock
        self.seen: list[Message] = []
        self.issuer = TokenMinter(infra.key_ring())
        self._position = 0

    @property
    def app(self) -> Any:
        return self.runtime.api.state.application

    def auth(self, subject: uuid.UUID | str, role: str = "customer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(str(subject), [role])}"}

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
        """Until ``predicate()`` (awaited when it gives a coroutine) is true."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)

    def of_type(self, name: str) -> list[Message]:
        return [m for m in self.seen if m.type == f"kyc.{name}.v1"]

    async def register(
        self,
        contractor_type: str = "individual",
        email_domain_class: str = "business",
        fixed_line: bool = True,
    ) -> uuid.UUID:
        account_id = uuid.uuid4()
        self._position += 1
        event = AccountRegistered(
            account_id=account_id,
            login_id="PBX" + str(account_id.int)[:8],
            contractor_type=contractor_type,  # type: ignore[arg-type]
            email_domain_class=email_domain_class,  # type: ignore[arg-type]
            screening_phone_is_fixed_line=fixed_line,
            registered_at=self.clock(),
        )
        message = to_message(
            event,
            message_id=f"reg-{account_id}",
            producer_position=self._position,
            correlation_id=None,
            causation_id=None,
        )
        await self.infra.bus.publish([message])

        def opened() -> bool:
            try:
                self.app.review_of(account_id)
            except Exception:
                return False
            return True

        await self.wait_for(opened)
        return account_id

    async def upload(
        self,
        account_id: uuid.UUID,
        document_type: str,
        content: bytes | None = None,
        *,
        filename: str = "document.jpg",
        content_type: str = "image/jpeg",
        **fields: str,
    ) -> httpx.Response:
        return await self.client.post(
            "/documents",
            data={"document_type": document_type, **fields},
            files={"file": (filename, content if content is not None else jpeg(), content_type)},
            headers=self.auth(account_id),
        )

    async def licence(self, account_id: uuid.UUID, content: bytes | None = None) -> httpx.Response:
        """A valid driver's licence (front): alone a complete set for an individual."""
        today = self.app.today()
        return await self.upload(
            account_id,
            "drivers_license",
            content,
            side="front",
            issued_on=str(today - timedelta(days=400)),
            expires_on=str(today + timedelta(days=500)),
        )

    @property
    def vault_root(self) -> Path:
        return Path(self.infra.settings.data_dir) / "kyc"

    def vault_files(self, account_id: uuid.UUID) -> list[Path]:
        """Every file (temporary ones included) under the account's document directory."""
        folder = self.vault_root / "files" / str(account_id)
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

    async def my_review(self, account_id: uuid.UUID) -> dict[str, Any]:
        reply = await self.client.get("/reviews/me", headers=self.auth(account_id))
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data


@pytest.fixture
async def screening(stack: Stack) -> AsyncIterator[Screening]:
    clock = Clock()
    async with serving(
        stack, lambda infra: build(infra, clock=clock), "kyc.#", (ACCOUNTS_QUEUE,)
    ) as served:
        harness = Screening(served.client, served.infra, served.runtime, clock)
        harness.seen = served.seen
        yield harness
