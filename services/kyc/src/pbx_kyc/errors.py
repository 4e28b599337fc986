"""KYC's errors (problem+json through the kit's single handler).

The review's own refusals are raised by the aggregate (``pbx_kyc.domain.review``)
and re-exported here; this module adds the ones of the application and the API.
"""

from __future__ import annotations

from pbx_kit.errors import ConflictError, FieldProblem, NotFoundError, RuleViolationError
from pbx_kyc.domain.review import DocumentNotFoundError as DocumentNotFoundError
from pbx_kyc.domain.review import ForbiddenDocumentError as ForbiddenDocumentError
from pbx_kyc.domain.review import NotForIndividualsError as NotForIndividualsError
from pbx_kyc.domain.review import OwnAccountError as OwnAccountError
from pbx_kyc.domain.review import ReviewNotOpenError as ReviewNotOpenError
from pbx_kyc.domain.review import WrongReviewStateError as WrongReviewStateError


class ReviewNotFoundError(NotFoundError):
    """Raised when an account has no review (yet), or the id names none the caller may see."""

    code = "review_not_found"
    message_ja = "審査情報が見つかりません。登録直後の場合は、しばらくしてから再度お試しください。"


class UploadRefusedError(RuleViolationError):
    """Raised when an upload fails a check (type, size, content, scanner); nothing is stored."""

    def __init__(self, code: str, message_ja: str, status: int = 422) -> None:
        super().__init__(message_ja, errors=[FieldProblem("file", code, message_ja)])
        self.code = code
        self.status = status
        self.title = {413: "Content Too Large", 415: "Unsupported Media Type"}.get(
            status, "Unprocessable Content"
        )


class IncompleteSetError(ConflictError):
    """Raised when an approval is asked for a set the rules find incomplete."""

    code = "incomplete_set"
    message_ja = "必要な書類がそろっていないため承認できません。"


class DocumentTypeRefusedError(RuleViolationError):
    """Raised for a document type that is known and never counts (an international licence)."""

    code = "document_type_not_accepted"

    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja, errors=[FieldProblem("document_type", self.code, message_ja)])
