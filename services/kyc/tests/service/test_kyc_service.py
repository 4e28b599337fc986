"""The kyc application on the in-memory store: one class per command, error paths included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from pbx_kit.testing import memory_infrastructure
from pbx_kyc import errors
from pbx_kyc.application import DecideReview, KycService, OpenReview, UploadDocument
from pbx_kyc.domain.review import KycReview
from pbx_kyc.main import make_application
from pbx_kyc.testing import jpeg


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> KycService:
    return make_application(memory_infrastructure(tmp_path), clock=clock)


def opened(app: KycService) -> UUID:
    account_id = uuid4()
    app.open_review(OpenReview(account_id, "individual", "free", True))
    return account_id


def licence(account_id: UUID, today: date, **changes: object) -> UploadDocument:
    """A valid driver's licence (front): alone a complete set for an individual."""
    fields: dict[str, object] = {
        "account_id": account_id,
        "document_type": "drivers_license",
        "side": "front",
        "issued_on": today - timedelta(days=400),
        "expires_on": today + timedelta(days=30),
        "content": jpeg(),
        "media_type": "image/jpeg",
        "display_name": "licence.jpg",
    }
    return UploadDocument(**{**fields, **changes})  # type: ignore[arg-type]


def submitted(app: KycService) -> KycReview:
    account_id = opened(app)
    app.upload_document(licence(account_id, app.today()))
    return app.review_of(account_id)


class TestOpenReview:
    def test_a_new_account_gets_a_draft_review(self, app: KycService) -> None:
        account_id = opened(app)
        review = app.review_of(account_id)
        assert review.account_id == account_id
        assert review.status == "draft"

    def test_a_repeat_changes_nothing(self, app: KycService) -> None:
        account_id = opened(app)
        version = app.review_of(account_id).version
        app.open_review(OpenReview(account_id, "individual", "free", True))
        assert app.review_of(account_id).version == version

    def test_an_account_without_a_review_is_not_found(self, app: KycService) -> None:
        with pytest.raises(errors.ReviewNotFoundError):
            app.review_of(uuid4())


class TestUploadDocument:
    def test_a_complete_set_is_submitted_and_stored_encrypted(
        self, app: KycService, tmp_path: Path
    ) -> None:
        account_id = opened(app)
        document_id = app.upload_document(licence(account_id, app.today()))
        review = app.review_of(account_id)
        assert review.status == "submitted"
        assert app.document_content(review, document_id) == licence(account_id, app.today()).content
        stored = [p.read_bytes() for p in (tmp_path / "kyc").rglob("*") if p.is_file()]
        assert stored and all(jpeg() not in content for content in stored)

    def test_the_back_of_a_my_number_card_is_refused_before_anything_is_written(
        self, app: KycService
    ) -> None:
        account_id = opened(app)
        version = app.review_of(account_id).version
        with pytest.raises(errors.ForbiddenDocumentError):
            app.upload_document(
                licence(account_id, app.today(), document_type="my_number_card", side="back")
            )
        assert app.review_of(account_id).version == version

    def test_an_account_without_a_review_cannot_upload(self, app: KycService) -> None:
        with pytest.raises(errors.ReviewNotFoundError):
            app.upload_document(licence(uuid4(), app.today()))


class TestClaimReview:
    def test_a_reviewer_takes_a_submitted_review(self, app: KycService) -> None:
        review = app.claim_review(submitted(app).id, "reviewer-1")
        assert review.status == "in_review"
        assert review.reviewer_id == "reviewer-1"

    def test_a_reviewer_never_takes_their_own_accounts_review(self, app: KycService) -> None:
        review = submitted(app)
        with pytest.raises(errors.OwnAccountError):
            app.claim_review(review.id, str(review.account_id))
        assert app.get_review(review.id).status == "submitted"

    def test_an_open_review_cannot_be_taken(self, app: KycService) -> None:
        account_id = opened(app)
        with pytest.raises(errors.WrongReviewStateError):
            app.claim_review(KycReview.create_id(account_id), "reviewer-1")

    def test_an_unknown_review_is_not_found(self, app: KycService) -> None:
        with pytest.raises(errors.ReviewNotFoundError):
            app.claim_review(uuid4(), "reviewer-1")


class TestApproveReview:
    def test_an_approval_is_valid_until_the_earliest_document_expiry(self, app: KycService) -> None:
        review = submitted(app)
        approved = app.approve_review(DecideReview(review.id, "reviewer-1"))
        assert approved.status == "approved"
        assert approved.valid_until == app.today() + timedelta(days=30)

    def test_an_incomplete_set_is_not_approved(self, app: KycService) -> None:
        account_id = opened(app)
        review_id = KycReview.create_id(account_id)
        with pytest.raises(errors.IncompleteSetError):
            app.approve_review(DecideReview(review_id, "reviewer-1"))
        assert app.get_review(review_id).status == "draft"

    def test_a_reviewer_never_approves_their_own_account(self, app: KycService) -> None:
        review = submitted(app)
        with pytest.raises(errors.OwnAccountError):
            app.approve_review(DecideReview(review.id, str(review.account_id)))

    def test_a_decided_review_is_not_decided_again(self, app: KycService) -> None:
        review = submitted(app)
        app.approve_review(DecideReview(review.id, "reviewer-1"))
        with pytest.raises(errors.WrongReviewStateError):
            app.reject_review(DecideReview(review.id, "reviewer-2", reasons=("illegible",)))
        assert app.get_review(review.id).status == "approved"


class TestRejectReview:
    def test_a_rejection_keeps_its_reasons(self, app: KycService) -> None:
        review = submitted(app)
        app.claim_review(review.id, "reviewer-1")
        rejected = app.reject_review(DecideReview(review.id, "reviewer-1", reasons=("illegible",)))
        assert rejected.status == "rejected"
        assert rejected.reasons == ["illegible"]

    def test_a_reason_for_an_unknown_document_is_refused(self, app: KycService) -> None:
        review = submitted(app)
        with pytest.raises(errors.DocumentNotFoundError):
            app.reject_review(
                DecideReview(review.id, "reviewer-1", document_reasons=((str(uuid4()), "x"),))
            )
        assert app.get_review(review.id).status == "submitted"


class TestExpireReview:
    def test_an_approval_expires_after_its_validity(self, app: KycService, clock: Clock) -> None:
        review = submitted(app)
        app.approve_review(DecideReview(review.id, "reviewer-1"))
        assert not app.expire_review(review.id)
        clock.now += timedelta(days=31)
        assert app.expire_review(review.id)
        assert app.get_review(review.id).status == "expired"
        assert not app.expire_review(review.id)

    def test_a_review_that_is_not_approved_does_not_expire(
        self, app: KycService, clock: Clock
    ) -> None:
        review = submitted(app)
        clock.now += timedelta(days=365)
        assert not app.expire_review(review.id)
        assert app.get_review(review.id).status == "submitted"
