"""Maps kyc domain events to the integration events other services consume (no contents,
no personal data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_events.contracts import IntegrationEvent
from pbx_events.kyc import DocumentUploaded, KycApproved, KycExpired, KycRejected, KycSubmitted
from pbx_events.store import ServiceApplication
from pbx_kyc.domain.review import KycReview

# classes made by @event (mypy cannot see decorator-made attributes)
_Added: Any = KycReview.DocumentAdded  # type: ignore[attr-defined]
_Submitted: Any = KycReview.Submitted  # type: ignore[attr-defined]
_Approved: Any = KycReview.Approved  # type: ignore[attr-defined]
_Rejected: Any = KycReview.Rejected  # type: ignore[attr-defined]
_Expired: Any = KycReview.Expired  # type: ignore[attr-defined]


class KycMapping:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def _review(self, event: Any) -> KycReview:
        review: KycReview = self.app.repository.get(
            event.originator_id, version=event.originator_version
        )
        return review

    def __call__(self, event: Any) -> Sequence[IntegrationEvent]:
        if not isinstance(event, _Added | _Submitted | _Approved | _Rejected | _Expired):
            return []
        review = self._review(event)
        common = {
            "account_id": review.account_id,
            "review_id": review.id,
            "revision": review.revision,
        }
        at = event.timestamp
        if isinstance(event, _Added):
            return [
                DocumentUploaded(
                    **common,
                    document_id=event.document_id,
                    document_type=event.document_type,
                    side=event.side,
                    uploaded_at=at,
                )
            ]
        if isinstance(event, _Submitted):
            return [KycSubmitted(**common, submitted_at=at)]
        if isinstance(event, _Approved):
            return [KycApproved(**common, approved_at=at, valid_until=review.valid_until)]
        if isinstance(event, _Rejected):
            return [KycRejected(**common, reasons=list(event.reasons), rejected_at=at)]
        return [KycExpired(**common, expired_at=at)]
