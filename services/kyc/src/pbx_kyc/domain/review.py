"""The KycReview aggregate: one per account, the screening of its documents (SPEC §3).

    draft ──(the set is complete by the rules)──▶ submitted ──claim──▶ in_review
    in_review ──approve──▶ approved ──(earliest validity ends)──▶ expired
    in_review ──reject──▶ rejected
    rejected / expired ──(an upload)──▶ draft, as a new revision that keeps the
                                       documents not rejected (nor expired)

Each document has its own status (pending, approved, rejected, expired) and
reason. A document counts for the rules only once the malware scanner passed
it. A reviewer never reviews their own account.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pbx_kit.errors import (
    ConflictError,
    DomainError,
    FieldProblem,
    NotFoundError,
    RuleViolationError,
)
from pbx_kyc.domain.documents import FORBIDDEN_SIDES

_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/kyc/review")

ReviewStatus = Literal["draft", "submitted", "in_review", "approved", "rejected", "expired"]
DocumentStatus = Literal["pending", "approved", "rejected", "expired"]


class ReviewNotOpenError(ConflictError):
    """Raised when documents are added while a reviewer has the review or it is approved."""

    code = "review_not_open"
    message_ja = "審査中または承認済みのため、書類を追加できません。"


class WrongReviewStateError(ConflictError):
    """Raised when a reviewer's decision does not fit the review's state."""

    code = "wrong_review_state"
    message_ja = "この審査は現在の状態では処理できません。"


class OwnAccountError(DomainError):
    """Raised when a reviewer would review their own account."""

    code = "own_account"
    status = 403
    title = "Forbidden"
    message_ja = "ご自身のアカウントの審査はできません。"


class ForbiddenDocumentError(RuleViolationError):
    """Raised for a document that must never be stored (a My Number card's back side)."""

    code = "forbidden_document"
    message_ja = (
        "マイナンバーカードの裏面（個人番号の記載面）はお受けできません。"
        "表面のみをアップロードしてください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("side", self.code, self.message_ja)])


class NotForIndividualsError(RuleViolationError):
    """Raised when an individual gives what only corporations and テレマ give (a website
    or public notice): kept, it would be input that counts for nothing."""

    code = "not_for_individuals"
    message_ja = "ウェブサイト・公告のURLは法人・テレマ事業者のお客様のみご入力いただけます。"

    def __init__(self, field: str = "url") -> None:
        super().__init__(self.message_ja, errors=[FieldProblem(field, self.code, self.message_ja)])


class DocumentNotFoundError(NotFoundError):
    """Raised when a document id is not one of the caller's (or the review's) documents."""

    code = "document_not_found"
    message_ja = "指定された書類が見つかりません。"


class DocumentState(TypedDict):
    document_type: str
    side: str | None
    issued_on: date | None
    expires_on: date | None
    status: str
    reason: str
    #: the rules' Japanese text when the rules turned it down ("" for a code's own text)
    reason_message: str
    revision: int
    #: "pending" until the malware scanner passed it, then "clean" (infected ones are rejected)
    scan: str
    media_type: str
    size: int
    display_name: str
    uploaded_at: datetime


class Decision(TypedDict):
    revision: int
    outcome: str
    reviewer_id: str
    decided_at: datetime
    reasons: list[str]


def review_id_for(account_id: UUID) -> UUID:
    return uuid5(_NAMESPACE, str(account_id))


class KycReview(Aggregate):
    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return review_id_for(account_id)

    class Opened(Aggregate.Created):
        account_id: UUID
        contractor_type: str
        email_domain_class: str
        screening_phone_is_fixed_line: bool

    @event(Opened)
    def __init__(
        self,
        account_id: UUID,
        contractor_type: str,
        email_domain_class: str,
        screening_phone_is_fixed_line: bool,
    ) -> None:
        self.account_id = account_id
        self.contractor_type = contractor_type
        self.email_domain_class = email_domain_class
        self.screening_phone_is_fixed_line = screening_phone_is_fixed_line
        self.public_notice_url = ""
        self.status: str = "draft"
        self.revision = 1
        self.documents: dict[str, DocumentState] = {}
        self.reviewer_id = ""
        self.reasons: list[str] = []
        self.valid_until: date | None = None
        self.decisions: list[Decision] = []

    # -- what the rules look at ------------------------------------------------

    def counted_documents(self) -> dict[str, DocumentState]:
        """Documents of this revision that passed the scanner and were not turned down."""
        return {
            doc_id: doc
            for doc_id, doc in self.documents.items()
            if doc["scan"] == "clean" and doc["status"] in ("pending", "approved")
        }

    def document(self, document_id: UUID) -> DocumentState:
        try:
            return self.documents[str(document_id)]
        except KeyError:
            raise DocumentNotFoundError(document_id=str(document_id)) from None

    # -- the customer ------------------------------------------------------------

    def add_document(
        self,
        document_id: UUID,
        document_type: str,
        side: str | None,
        issued_on: date | None,
        expires_on: date | None,
        media_type: str,
        size: int,
        display_name: str,
        uploaded_at: datetime,
    ) -> None:
        """A document that passed the upload checks (it still waits for the scanner)."""
        if (document_type, side) in FORBIDDEN_SIDES:
            raise ForbiddenDocumentError
        if self.status in ("in_review", "approved"):
            raise ReviewNotOpenError(review_status=self.status)
        if self.status in ("rejected", "expired"):
            self._revision_started(self.revision + 1)
        self._document_added(
            document_id,
            document_type,
            side,
            issued_on,
            expires_on,
            media_type,
            size,
            display_name,
            uploaded_at,
        )

    class RevisionStarted(Aggregate.Event):
        revision: int

    @event(RevisionStarted)
    def _revision_started(self, revision: int) -> None:
        self.revision = revision
        self.status = "draft"
        self.reviewer_id = ""
        self.reasons = []
        self.valid_until = None
        # the documents not turned down carry over to the new revision
        for doc in self.documents.values():
            if doc["status"] == "approved":
                doc["status"] = "pending"

    class DocumentAdded(Aggregate.Event):
        document_id: UUID
        document_type: str
        side: str | None
        issued_on: date | None
        expires_on: date | None
        media_type: str
        size: int
        display_name: str
        uploaded_at: datetime

    @event(DocumentAdded)
    def _document_added(
        self,
        document_id: UUID,
        document_type: str,
        side: str | None,
        issued_on: date | None,
        expires_on: date | None,
        media_type: str,
        size: int,
        display_name: str,
        uploaded_at: datetime,
    ) -> None:
        self.documents[str(document_id)] = DocumentState(
            document_type=document_type,
            side=side,
            issued_on=issued_on,
            expires_on=expires_on,
            status="pending",
            reason="",
            reason_message="",
            revision=self.revision,
            scan="pending",
            media_type=media_type,
            size=size,
            display_name=display_name,
            uploaded_at=uploaded_at,
        )

    def record_scan(self, document_id: UUID, clean: bool, signature: str = "") -> bool:
        """The scanner's verdict; an infected file is rejected. True when this changed it."""
        doc = self.document(document_id)
        if doc["scan"] != "pending":
            return False
        if clean:
            self._scanned_clean(document_id)
        else:
            self._quarantined(document_id, signature or "malware")
        return True

    class DocumentScanned(Aggregate.Event):
        document_id: UUID

    @event(DocumentScanned)
    def _scanned_clean(self, document_id: UUID) -> None:
        self.documents[str(document_id)]["scan"] = "clean"

    class DocumentQuarantined(Aggregate.Event):
        document_id: UUID
        signature: str

    @event(DocumentQuarantined)
    def _quarantined(self, document_id: UUID, signature: str) -> None:
        doc = self.documents[str(document_id)]
        doc["scan"] = "infected"
        doc["status"] = "rejected"
        doc["reason"] = "malware_detected"

    def set_public_notice(self, url: str) -> None:
        """The corporation's website URL or equivalent public notice."""
        if self.contractor_type == "individual":
            raise NotForIndividualsError
        if self.status in ("in_review", "approved"):
            raise ReviewNotOpenError(review_status=self.status)
        if url != self.public_notice_url:
            self._public_notice_set(url)

    class PublicNoticeSet(Aggregate.Event):
        url: str

    @event(PublicNoticeSet)
    def _public_notice_set(self, url: str) -> None:
        self.public_notice_url = url

    def give_fixed_phone(self) -> None:
        """A corporation gave a fixed phone number with its documents (checked by the caller)."""
        if self.status in ("in_review", "approved"):
            raise ReviewNotOpenError(review_status=self.status)
        if not self.screening_phone_is_fixed_line:
            self._fixed_phone_given()

    class FixedPhoneGiven(Aggregate.Event):
        """A fixed phone number was given with the documents (no attributes)."""

    @event(FixedPhoneGiven)
    def _fixed_phone_given(self) -> None:
        self.screening_phone_is_fixed_line = True

    def submit_if_complete(self, complete: bool) -> bool:
        """Submitted once the rules say the set is complete (checked at each upload)."""
        if self.status == "draft" and complete:
            self._submitted(self.revision)
            return True
        return False

    class Submitted(Aggregate.Event):
        revision: int

    @event(Submitted)
    def _submitted(self, revision: int) -> None:
        self.status = "submitted"

    # -- reviewers -----------------------------------------------------------------

    def claim(self, reviewer_id: str) -> None:
        self._not_own(reviewer_id)
        if self.status == "in_review" and self.reviewer_id == reviewer_id:
            return
        if self.status != "submitted":
            raise WrongReviewStateError(review_status=self.status)
        self._claimed(reviewer_id)

    class Claimed(Aggregate.Event):
        reviewer_id: str

    @event(Claimed)
    def _claimed(self, reviewer_id: str) -> None:
        self.status = "in_review"
        self.reviewer_id = reviewer_id

    def approve(
        self,
        reviewer_id: str,
        valid_until: date | None,
        decided_at: datetime,
        rule_problems: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """Approve the set. ``rule_problems`` are the documents the rules say cannot count
        (document id → the rules' reason code and Japanese text): they are turned down with
        it in the same decision, never approved."""
        self._deciding(reviewer_id)
        turned_down = {
            document_id: problem
            for document_id, problem in (rule_problems or {}).items()
            if self.document(UUID(document_id))["status"] == "pending"
        }
        if turned_down:
            self._turned_down_by_rules(
                {document_id: code for document_id, (code, _) in turned_down.items()},
                {document_id: text for document_id, (_, text) in turned_down.items()},
            )
        self._approved(reviewer_id, valid_until, decided_at)

    class TurnedDownByRules(Aggregate.Event):
        """Documents the rules say cannot count, turned down as the set was approved."""

        document_reasons: dict[str, str]
        messages: dict[str, str]

    @event(TurnedDownByRules)
    def _turned_down_by_rules(
        self, document_reasons: dict[str, str], messages: dict[str, str]
    ) -> None:
        for document_id, reason in document_reasons.items():
            doc = self.documents[document_id]
            doc["status"] = "rejected"
            doc["reason"] = reason
            doc["reason_message"] = messages.get(document_id, "")

    class Approved(Aggregate.Event):
        reviewer_id: str
        valid_until: date | None
        decided_at: datetime

    @event(Approved)
    def _approved(self, reviewer_id: str, valid_until: date | None, decided_at: datetime) -> None:
        self.status = "approved"
        self.valid_until = valid_until
        for doc in self.documents.values():
            if doc["status"] == "pending" and doc["scan"] == "clean":
                doc["status"] = "approved"
        self.decisions.append(
            Decision(
                revision=self.revision,
                outcome="approved",
                reviewer_id=reviewer_id,
                decided_at=decided_at,
                reasons=[],
            )
        )

    def reject(
        self,
        reviewer_id: str,
        reasons: list[str],
        document_reasons: dict[str, str],
        decided_at: datetime,
    ) -> None:
        self._deciding(reviewer_id)
        for document_id in document_reasons:
            self.document(UUID(document_id))
        self._rejected(reviewer_id, list(reasons), dict(document_reasons), decided_at)

    class Rejected(Aggregate.Event):
        reviewer_id: str
        reasons: list[str]
        document_reasons: dict[str, str]
        decided_at: datetime

    @event(Rejected)
    def _rejected(
        self,
        reviewer_id: str,
        reasons: list[str],
        document_reasons: dict[str, str],
        decided_at: datetime,
    ) -> None:
        self.status = "rejected"
        self.reasons = list(reasons)
        for document_id, reason in document_reasons.items():
            self.documents[document_id]["status"] = "rejected"
            self.documents[document_id]["reason"] = reason
        self.decisions.append(
            Decision(
                revision=self.revision,
                outcome="rejected",
                reviewer_id=reviewer_id,
                decided_at=decided_at,
                reasons=list(reasons),
            )
        )

    def _deciding(self, reviewer_id: str) -> None:
        self._not_own(reviewer_id)
        if self.status == "submitted":
            self._claimed(reviewer_id)
        if self.status != "in_review":
            raise WrongReviewStateError(review_status=self.status)

    def _not_own(self, reviewer_id: str) -> None:
        if reviewer_id == str(self.account_id):
            raise OwnAccountError

    # -- time ----------------------------------------------------------------------

    def expire(self, today: date) -> bool:
        """An approval ends after the earliest validity of its documents; True when it did."""
        if self.status != "approved" or self.valid_until is None or today <= self.valid_until:
            return False
        self._expired(today)
        return True

    class Expired(Aggregate.Event):
        today: date

    @event(Expired)
    def _expired(self, today: date) -> None:
        self.status = "expired"
        for doc in self.documents.values():
            if doc["status"] in ("approved", "pending"):
                doc["status"] = "expired"
                doc["reason"] = "validity_ended"
