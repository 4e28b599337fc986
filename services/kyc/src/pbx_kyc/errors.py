"""KYC's domain errors (problem+json through the kit's single handler)."""

from __future__ import annotations

from pbx_kit.problems import DomainError, FieldProblem, NotFoundError, RuleViolationError
from pbx_kyc.domain import review as domain


class ReviewNotFoundError(NotFoundError):
    """Raised when an account has no review (yet), or the id names none the caller may see."""

    code = "review_not_found"
    message_ja = "審査情報が見つかりません。登録直後の場合は、しばらくしてから再度お試しください。"


class DocumentNotFoundError(NotFoundError):
    """Raised when a document id is not one of the caller's (or the review's) documents."""

    code = "document_not_found"
    message_ja = "指定された書類が見つかりません。"


class ForbiddenDocumentError(RuleViolationError):
    """Raised for a My Number card's back side: it is never accepted nor stored."""

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("side", self.code, self.message_ja)])

    code = "forbidden_document"
    message_ja = (
        "マイナンバーカードの裏面（個人番号の記載面）はお受けできません。"
        "表面のみをアップロードしてください。"
    )


class UploadRefusedError(RuleViolationError):
    """Raised when an upload fails a check (type, size, content, scanner); nothing is stored."""

    def __init__(self, code: str, message_ja: str, status: int = 422) -> None:
        super().__init__(message_ja, errors=[FieldProblem("file", code, message_ja)])
        self.code = code
        self.status = status
        self.title = {413: "Content Too Large", 415: "Unsupported Media Type"}.get(
            status, "Unprocessable Content"
        )


class ReviewNotOpenError(DomainError):
    """Raised when documents are sent while the review is with a reviewer or approved."""

    code = "review_not_open"
    status = 409
    message_ja = "審査中または承認済みのため、書類を追加できません。"


class WrongReviewStateError(DomainError):
    """Raised when a reviewer's decision does not fit the review's state."""

    code = "wrong_review_state"
    status = 409
    message_ja = "この審査は現在の状態では処理できません。"


class OwnAccountError(DomainError):
    """Raised when a reviewer would review their own account."""

    code = "own_account"
    status = 403
    title = "Forbidden"
    message_ja = "ご自身のアカウントの審査はできません。"


class IncompleteSetError(DomainError):
    """Raised when an approval is asked for a set the rules find incomplete."""

    code = "incomplete_set"
    status = 409
    message_ja = "必要な書類がそろっていないため承認できません。"


class NotForIndividualsError(RuleViolationError):
    """Raised when an individual sends a website or public notice (法人・テレマ only)."""

    code = "not_for_individuals"
    message_ja = "ウェブサイト・公告のURLは法人・テレマ事業者のお客様のみご入力いただけます。"

    def __init__(self, field: str = "url") -> None:
        super().__init__(self.message_ja, errors=[FieldProblem(field, self.code, self.message_ja)])


def from_domain(exc: domain.ReviewError) -> DomainError:
    if isinstance(exc, domain.NotForIndividualsError):
        return NotForIndividualsError()
    if isinstance(exc, domain.ForbiddenDocumentError):
        return ForbiddenDocumentError()
    if isinstance(exc, domain.ReviewNotOpenError):
        return ReviewNotOpenError()
    if isinstance(exc, domain.OwnAccountError):
        return OwnAccountError()
    if isinstance(exc, domain.UnknownDocumentError):
        return DocumentNotFoundError()
    return WrongReviewStateError()
