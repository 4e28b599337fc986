"""The reviewer queue and the approvals to expire: reviews by status, a read model.

Follows the kyc notification log: each batch becomes one change per review it
touched (the review as it is now, and when its current revision was submitted);
the changes and the position commit together (a ``ReviewStore``: PostgreSQL
tables, or memory on the in-memory stack), so a process resumes where the store
got to and start-up reads only what is new. Every process follows the log
(LISTEN/NOTIFY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import anyio

from pbx_events.relay import FollowerSettings, LogFollower
from pbx_kyc.application import KycService
from pbx_kyc.domain.review import KycReview


@dataclass(frozen=True)
class ReviewRow:
    review_id: UUID
    account_id: UUID
    status: str
    revision: int
    #: when the current revision was submitted (the queue's order)
    submitted_at: datetime | None
    valid_until: date | None


@dataclass(frozen=True)
class ReviewChange:
    """A review's row as of notification ``position``; ``submitted_at`` None keeps the
    stored one (no submission in this batch)."""

    position: int
    row: ReviewRow


class ReviewProjection(LogFollower):
    """Keeps a ``ReviewStore`` (memory or PostgreSQL) current with the kyc log."""

    def __init__(
        self, app: KycService, store: Any, settings: FollowerSettings | None = None
    ) -> None:
        super().__init__(app, "projection:reviews", settings)
        self.kyc = app
        self.store = store
        self._saved = 0

    async def start(self) -> None:
        """Resume from where the store got to (the store saves it with the rows)."""
        self._saved = await self.store.position()

    def load_position(self) -> int:
        return self._saved

    def store_position(self, position: int) -> None:
        self._saved = position  # already saved with the rows, in handle_batch

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> list[ReviewChange]:
        positions: dict[UUID, int] = {}
        submitted: dict[UUID, datetime] = {}
        for position, event in batch:
            positions[event.originator_id] = position
            if isinstance(event, KycReview.Submitted):
                submitted[event.originator_id] = event.timestamp
        changes: list[ReviewChange] = []
        for review_id, position in positions.items():
            review: object = self.kyc.repository.get(review_id)
            if not isinstance(review, KycReview):
                continue
            row = ReviewRow(
                review_id=review_id,
                account_id=review.account_id,
                status=review.status,
                revision=review.revision,
                submitted_at=submitted.get(review_id),
                valid_until=review.valid_until,
            )
            changes.append(ReviewChange(position, row))
        return changes

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        changes = prepared if prepared is not None else self.prepare(batch)
        await self.store.apply(changes, batch[-1][0])

    async def rebuild(self) -> int:
        """Empty the read model and apply the whole log again (one transaction: readers
        see the old rows until it commits); returns the position reached."""
        self._saved = await self.store.rebuild(self._from_zero())
        return self._saved

    async def _from_zero(self) -> AsyncIterator[tuple[list[ReviewChange], int]]:
        position = 0
        while True:
            last, batch, prepared = await anyio.to_thread.run_sync(self._read, position)
            if not batch:
                return
            yield prepared, last
            position = last
