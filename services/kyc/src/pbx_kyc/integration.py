"""Maps kyc domain events to the integration events other services consume (no contents,
no personal data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_events.contracts import IntegrationEvent
from pbx_events.kyc import DocumentUploaded, KycApproved, KycExpired, KycRejected, KycSubmitted
from pbx_events.store import ServiceApplication
from pbx_kyc.domain.review import KycReview

_PUBLISHED = (
    KycReview.DocumentAdded,
    KycReview.Submitted,
    KycReview.Approved,
    KycReview.Rejected,
    KycReview.Expired,
)


class KycMapping:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def _review(self, event: Any) -> KycReview:
        review: KycReview = self.app.repository.get(
            event.originator_id, version=event.originator_version
        )
        return review

    def __call__(self, event: Any) -> Sequence[IntegrationEvent]:
        if not isinstance(event, _PUBLISHED):
            return []
        review = self._review(event)
        common = {
            "account_id": review.account_id,
            "review_id": review.id,
            "revision": review.revision,
        }
        at = event.timestamp
        if isinstance(event, KycReview.DocumentAdded):
            return [
                DocumentUploaded(
                    **common,
                    document_id=event.document_id,
                    document_type=event.document_type,
                    side=event.side,
                    uploaded_at=at,
                )
            ]
        if isinstance(event, KycReview.Submitted):
            return [KycSubmitted(**common, submitted_at=at)]
        if isinstance(event, KycReview.Approved):
            return [KycApproved(**common, approved_at=at, valid_until=review.valid_until)]
        if isinstance(event, KycReview.Rejected):
            return [KycRejected(**common, reasons=list(event.reasons), rejected_at=at)]
        return [KycExpired(**common, expired_at=at)]
