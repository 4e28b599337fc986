"""The KycReview aggregate's states and per-document statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from pbx_kyc.domain.review import (
    ForbiddenDocumentError,
    KycReview,
    OwnAccountError,
    ReviewNotOpenError,
    WrongReviewStateError,
)

NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
REVIEWER = "reviewer-1"


def a_review() -> KycReview:
    return KycReview(uuid.uuid4(), "individual", "business", True)


def add(review: KycReview, document_type: str = "drivers_license", clean: bool = True) -> uuid.UUID:
    document_id = uuid.uuid4()
    review.add_document(
        document_id,
        document_type,
        "front",
        date(2024, 1, 1),
        date(2028, 5, 31),
        "image/jpeg",
        1000,
        "licence.jpg",
        NOW,
    )
    review.record_scan(document_id, clean)
    return document_id


def names(review: KycReview) -> list[str]:
    return [type(e).__name__ for e in review.collect_events()]


def test_a_complete_set_is_submitted_then_claimed_and_approved() -> None:
    review = a_review()
    document_id = add(review)
    assert review.submit_if_complete(True)
    review.claim(REVIEWER)
    review.approve(REVIEWER, date(2028, 5, 31), NOW)
    assert review.status == "approved"
    assert review.document(document_id)["status"] == "approved"
    assert names(review) == [
        "Opened",
        "DocumentAdded",
        "DocumentScanned",
        "Submitted",
        "Claimed",
        "Approved",
    ]
    assert review.decisions[0]["reviewer_id"] == REVIEWER


def test_an_infected_file_is_rejected_and_never_counts() -> None:
    review = a_review()
    document_id = add(review, clean=False)
    assert review.document(document_id)["status"] == "rejected"
    assert review.counted_documents() == {}


def test_a_my_number_card_back_side_is_refused() -> None:
    review = a_review()
    with pytest.raises(ForbiddenDocumentError):
        review.add_document(
            uuid.uuid4(), "my_number_card", "back", None, None, "image/jpeg", 1, "x", NOW
        )
    assert review.documents == {}


def test_a_reviewer_cannot_review_their_own_account() -> None:
    review = a_review()
    add(review)
    review.submit_if_complete(True)
    with pytest.raises(OwnAccountError):
        review.approve(str(review.account_id), None, NOW)
    assert review.status == "submitted"


def test_rejection_then_resubmission_keeps_the_documents_not_rejected() -> None:
    review = a_review()
    kept = add(review, "health_insurance_card")
    bad = add(review, "residence_certificate")
    review.submit_if_complete(True)
    review.reject(REVIEWER, ["document_unreadable"], {str(bad): "unreadable"}, NOW)
    assert (review.status, review.document(bad)["reason"]) == ("rejected", "unreadable")
    new = add(review, "utility_receipt")
    assert (review.status, review.revision) == ("draft", 2)
    assert set(review.counted_documents()) == {str(kept), str(new)}
    with pytest.raises(WrongReviewStateError):
        review.approve(REVIEWER, None, NOW)


def test_no_uploads_while_in_review_or_approved_and_approval_expires() -> None:
    review = a_review()
    add(review)
    review.submit_if_complete(True)
    review.claim(REVIEWER)
    with pytest.raises(ReviewNotOpenError):
        add(review)
    review.approve(REVIEWER, date(2028, 5, 31), NOW)
    assert review.expire(date(2028, 5, 31)) is False
    assert review.expire(date(2028, 6, 1)) is True
    assert review.status == "expired"
    add(review)
    assert (review.status, review.revision) == ("draft", 2)


def test_an_approval_turns_down_the_documents_the_rules_reject_in_the_same_decision() -> None:
    review = a_review()
    licence = add(review)
    receipt = add(review, "utility_receipt")
    review.submit_if_complete(True)
    review.collect_events()
    text = "公共料金の領収書は発行から3か月を超えています。"
    review.approve(REVIEWER, date(2028, 5, 31), NOW, {str(receipt): ("issued_too_long_ago", text)})
    assert review.document(licence)["status"] == "approved"
    turned_down = review.document(receipt)
    assert (turned_down["status"], turned_down["reason"]) == ("rejected", "issued_too_long_ago")
    assert turned_down["reason_message"] == text
    assert names(review) == ["Claimed", "TurnedDownByRules", "Approved"]


def test_an_approval_leaves_alone_a_document_already_turned_down() -> None:
    review = a_review()
    add(review)
    infected = add(review, clean=False)
    review.submit_if_complete(True)
    review.collect_events()
    review.approve(REVIEWER, None, NOW, {str(infected): ("expired", "…")})
    assert review.document(infected)["reason"] == "malware_detected"
    assert names(review) == ["Claimed", "Approved"]
