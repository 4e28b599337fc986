"""The kyc application: the only place reviews are loaded and saved.

An upload is checked before anything is written (pbx_kyc.uploads), stored
encrypted (pbx_kyc.vault), recorded on the review, scanned, and the rules are
evaluated: a complete set is submitted at once. Changes to one review are
load → decide → save, decided again after a lost race.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError

from pbx_events.store import ServiceApplication
from pbx_kyc import errors
from pbx_kyc.domain.documents import FORBIDDEN_SIDES
from pbx_kyc.domain.review import KycReview
from pbx_kyc.domain.rules import (
    Applicant,
    DocumentFacts,
    Evaluation,
    evaluate,
    parse_contractor_type,
    parse_email_domain_class,
    rule_set_for,
)
from pbx_kyc.rules_file import rule_sets
from pbx_kyc.scanner import Scanner
from pbx_kyc.vault import DocumentVault

T = TypeVar("T")
JST = ZoneInfo("Asia/Tokyo")
MAX_ATTEMPTS = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OpenReview:
    account_id: UUID
    contractor_type: str
    email_domain_class: str
    screening_phone_is_fixed_line: bool


@dataclass(frozen=True)
class UploadDocument:
    account_id: UUID
    document_type: str
    side: str | None
    issued_on: date | None
    expires_on: date | None
    #: the inspected, re-encoded bytes to store
    content: bytes
    media_type: str
    display_name: str


@dataclass(frozen=True)
class DecideReview:
    review_id: UUID
    reviewer_id: str
    reasons: tuple[str, ...] = ()
    document_reasons: tuple[tuple[str, str], ...] = ()


class KycService(ServiceApplication):
    name = "kyc"

    def __init__(
        self,
        env: dict[str, str],
        *,
        vault: DocumentVault,
        scanner: Scanner,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env=env)
        self.vault = vault
        self.scanner = scanner
        self.clock = clock
        #: how identity is verified (``PBX_KYC_VERIFICATION_METHOD``)
        self.verification_method = "document_upload"

    def today(self) -> date:
        return self.clock().astimezone(JST).date()

    # -- loading ------------------------------------------------------------------

    def get_review(self, review_id: UUID) -> KycReview:
        try:
            review: KycReview = self.repository.get(review_id)
        except AggregateNotFoundError:
            raise errors.ReviewNotFoundError from None
        return review

    def review_of(self, account_id: UUID) -> KycReview:
        return self.get_review(KycReview.create_id(account_id))

    def _change(self, review_id: UUID, decide: Callable[[KycReview], T]) -> T:
        return self.change(lambda: self.get_review(review_id), decide, attempts=MAX_ATTEMPTS)

    # -- the rules ----------------------------------------------------------------

    def evaluation(self, review: KycReview) -> Evaluation:
        today = self.today()
        applicant = Applicant(
            contractor_type=parse_contractor_type(review.contractor_type),
            email_domain_class=parse_email_domain_class(review.email_domain_class),
            screening_phone_is_fixed_line=review.screening_phone_is_fixed_line,
            has_public_notice=bool(review.public_notice_url),
        )
        facts = [
            DocumentFacts(
                document_id=doc_id,
                document_type=doc["document_type"],
                side=doc["side"],
                issued_on=doc["issued_on"],
                expires_on=doc["expires_on"],
                status=doc["status"],
            )
            for doc_id, doc in review.counted_documents().items()
        ]
        return evaluate(rule_set_for(today, rule_sets()), applicant, facts, today)

    def _submit_if_complete(self, review: KycReview) -> None:
        review.submit_if_complete(self.evaluation(review).complete)

    # -- accounts ---------------------------------------------------------------------

    def open_review(self, cmd: OpenReview) -> KycReview:
        """Open an account's review with what screening needs to know of it (a repeat
        changes nothing)."""
        try:
            return self.review_of(cmd.account_id)
        except errors.ReviewNotFoundError:
            pass
        review = KycReview(
            cmd.account_id,
            cmd.contractor_type,
            cmd.email_domain_class,
            cmd.screening_phone_is_fixed_line,
        )
        self.save(review)
        return review

    # -- the customer ---------------------------------------------------------------

    def upload_document(self, cmd: UploadDocument) -> UUID:
        """Store a checked document encrypted, add it to the review, scan it, apply the rules."""
        if (cmd.document_type, cmd.side) in FORBIDDEN_SIDES:
            raise errors.ForbiddenDocumentError  # before anything is written
        review_id = KycReview.create_id(cmd.account_id)
        review = self.get_review(review_id)
        if review.status in ("in_review", "approved"):
            raise errors.ReviewNotOpenError
        document_id = uuid4()
        self.vault.put(cmd.account_id, document_id, cmd.content)
        uploaded_at = self.clock()

        def add(review: KycReview) -> None:
            review.add_document(
                document_id,
                cmd.document_type,
                cmd.side,
                cmd.issued_on,
                cmd.expires_on,
                cmd.media_type,
                len(cmd.content),
                cmd.display_name,
                uploaded_at,
            )

        try:
            self._change(review_id, add)
        except BaseException:
            # the review moved on meanwhile (a reviewer claimed it): no file without a record
            self.vault.delete(cmd.account_id, document_id)
            raise
        verdict = self.scanner.scan(cmd.content)

        def scanned(review: KycReview) -> None:
            review.record_scan(document_id, verdict.clean, verdict.signature or "")
            self._submit_if_complete(review)

        self._change(review_id, scanned)
        return document_id

    def set_public_notice(self, account_id: UUID, url: str) -> KycReview:
        """The corporation's website or public notice; the rules are applied again."""

        def decide(review: KycReview) -> KycReview:
            review.set_public_notice(url)
            self._submit_if_complete(review)
            return review

        return self._change(KycReview.create_id(account_id), decide)

    def give_fixed_phone(self, account_id: UUID) -> KycReview:
        """A corporation's fixed phone number (already checked to be one); rules again."""

        def decide(review: KycReview) -> KycReview:
            review.give_fixed_phone()
            self._submit_if_complete(review)
            return review

        return self._change(KycReview.create_id(account_id), decide)

    def document_content(self, review: KycReview, document_id: UUID) -> bytes:
        review.document(document_id)
        return self.vault.get(review.account_id, document_id)

    # -- reviewers ----------------------------------------------------------------------

    def claim_review(self, review_id: UUID, reviewer_id: str) -> KycReview:
        """Take a submitted review (a reviewer never takes their own account's)."""

        def decide(review: KycReview) -> KycReview:
            review.claim(reviewer_id)
            return review

        return self._change(review_id, decide)

    def approve_review(self, cmd: DecideReview) -> KycReview:
        """Approve: valid until the earliest validity of the documents that made the set."""
        now = self.clock()

        def decide(review: KycReview) -> KycReview:
            result = self.evaluation(review)
            if not result.complete:
                raise errors.IncompleteSetError
            # a document the rules say cannot count is never approved: it is turned down
            rule_problems = {
                document_id: (problems[0].code, " ".join(p.message_ja for p in problems))
                for document_id, problems in result.document_problems.items()
            }
            review.approve(cmd.reviewer_id, result.valid_until, now, rule_problems)
            return review

        return self._change(cmd.review_id, decide)

    def reject_review(self, cmd: DecideReview) -> KycReview:
        """Reject with reasons for the review and for each document."""
        now = self.clock()

        def decide(review: KycReview) -> KycReview:
            review.reject(cmd.reviewer_id, list(cmd.reasons), dict(cmd.document_reasons), now)
            return review

        return self._change(cmd.review_id, decide)

    def expire_review(self, review_id: UUID) -> bool:
        """The timer's call: an approval past the earliest document validity expires."""
        today = self.today()
        return self._change(review_id, lambda review: review.expire(today))
