"""The reviewer queue and the approvals to expire: an index of reviews by status.

Kept in memory and rebuilt from the kyc notification log at start (every
process follows the log, LISTEN/NOTIFY), like the catalog's product view.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pbx_events.relay import LogFollower, RelaySettings
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


class ReviewIndex(LogFollower):
    def __init__(self, app: KycService, settings: RelaySettings | None = None) -> None:
        super().__init__(app, "view:reviews", settings)
        self.kyc = app
        self._rows: dict[UUID, ReviewRow] = {}
        self._lock = threading.Lock()
        self._seen = 0

    def load_position(self) -> int:
        return self._seen

    def store_position(self, position: int) -> None:
        self._seen = position

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> dict[UUID, ReviewRow]:
        submitted = {
            e.originator_id: e.timestamp
            for _, e in batch
            if isinstance(e, KycReview.Submitted)  # type: ignore[attr-defined]
        }
        rows: dict[UUID, ReviewRow] = {}
        for review_id in {e.originator_id for _, e in batch}:
            review: KycReview = self.kyc.repository.get(review_id)
            previous = self._rows.get(review_id)
            rows[review_id] = ReviewRow(
                review_id=review_id,
                account_id=review.account_id,
                status=review.status,
                revision=review.revision,
                submitted_at=submitted.get(review_id, previous.submitted_at if previous else None),
                valid_until=review.valid_until,
            )
        return rows

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        rows = prepared if prepared is not None else self.prepare(batch)
        with self._lock:
            self._rows.update(rows)

    def with_status(self, status: str) -> list[ReviewRow]:
        """Reviews in one state, oldest submission first."""
        with self._lock:
            rows = [r for r in self._rows.values() if r.status == status]
        return sorted(
            rows,
            key=lambda r: (
                r.submitted_at is None,
                r.submitted_at.timestamp() if r.submitted_at else 0.0,
                str(r.review_id),
            ),
        )

    def approvals_ending_before(self, today: date) -> list[UUID]:
        with self._lock:
            return [
                r.review_id
                for r in self._rows.values()
                if r.status == "approved" and r.valid_until is not None and r.valid_until < today
            ]
