"""KYC routes: the customer's uploads and review; the reviewers' queue and decisions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from pbx_kit.auth import Caller, require_roles
from pbx_kit.phones import parse_japanese_fixed_line
from pbx_kit.problems import FieldProblem, RuleViolationError, problem_responses
from pbx_kyc import errors
from pbx_kyc.application import DecideReview, KycService, UploadDocument
from pbx_kyc.domain.documents import (
    CARDS,
    DOCUMENT_NAMES,
    REFUSED_DOCUMENT_TYPES,
    DocumentType,
    RefusedDocumentType,
    Side,
)
from pbx_kyc.domain.reasons import RejectionReason, reason_message
from pbx_kyc.domain.review import KycReview
from pbx_kyc.domain.rules import Evaluation
from pbx_kyc.public_urls import check_public_url
from pbx_kyc.read_model import ReviewStore
from pbx_kyc.scanner import require_clean
from pbx_kyc.uploads import UploadRefused, inspect, read_limited, safe_filename

router = APIRouter(tags=["kyc"])

CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]
ReviewerDep = Annotated[Caller, Depends(require_roles("reviewer"))]
ReaderDep = Annotated[Caller, Depends(require_roles("reviewer", "customer"))]
_OWNER = problem_responses(401, 403, 404, s404="no review (yet) or no such document of yours")
_UPLOAD = problem_responses(
    401, 403, 404, 409, 413, 415, s409="the review is with a reviewer or approved"
)
_REVIEWER = problem_responses(
    401, 403, 404, 409, s403="not a reviewer, or the reviewer's own account"
)

STATUS_NAMES = {"draft": "pending"}
URL_PATTERN = r"^https?://[^\s/$.?#][^\s]{2,2000}$"


def get_app(request: Request) -> KycService:
    app: KycService = request.app.state.application
    return app


def get_reviews(request: Request) -> ReviewStore:
    store: ReviewStore = request.app.state.review_store
    return store


KycDep = Annotated[KycService, Depends(get_app)]
ReviewsDep = Annotated[ReviewStore, Depends(get_reviews)]


class ReasonOut(BaseModel):
    code: str = Field(description="a stable code")
    message: str = Field(description="what it means, in Japanese, for the customer")


class DocumentOut(BaseModel):
    document_id: UUID
    document_type: str
    name: str
    side: str | None
    status: Literal["pending", "approved", "rejected", "expired"]
    reason: str | None = Field(description="why it was turned down (a code), once it was")
    reason_message: str | None = Field(description="the reason, in Japanese")
    problems: list[ReasonOut] = Field(
        description=(
            "why the screening rules say this document cannot count (expired, dated in the "
            "future, a type no longer accepted…), in Japanese; empty when it counts. A "
            "reviewer's approval never approves such a document: it is turned down with it"
        )
    )
    scan: Literal["pending", "clean", "infected"]
    issued_on: date | None
    expires_on: date | None
    revision: int
    media_type: str
    size: int
    uploaded_at: datetime


class ReviewOut(BaseModel):
    review_id: UUID
    account_id: UUID
    contractor_type: str
    status: Literal["pending", "submitted", "in_review", "approved", "rejected", "expired"]
    revision: int
    documents: list[DocumentOut]
    missing: list[ReasonOut] = Field(description="what the rules still need, in Japanese")
    reasons: list[str] = Field(description="reason codes of the last rejection")
    reason_messages: list[ReasonOut] = Field(
        description="the last rejection's reasons, in Japanese"
    )
    valid_until: date | None
    public_notice_url: str
    verification_method: Literal["document_upload"] = Field(
        description="how identity is verified (a setting)"
    )
    decisions: list[DecisionOut] = Field(description="every decision, oldest first")


class DecisionOut(BaseModel):
    revision: int
    outcome: Literal["approved", "rejected"]
    decided_at: datetime
    reasons: list[str]
    reviewer_id: str | None = Field(description="who decided (shown to reviewers only)")


class QueueItemOut(BaseModel):
    review_id: UUID
    account_id: UUID
    status: str
    revision: int
    submitted_at: datetime | None


class UploadedOut(BaseModel):
    document_id: UUID
    problems: list[ReasonOut] = Field(
        description=(
            "why the rules say this document cannot count, in Japanese (empty when it "
            "counts); it is kept for the reviewer all the same, and the review's missing "
            "says what would complete the set"
        )
    )
    review: ReviewOut


class PublicNoticeIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    url: str = Field(
        pattern=URL_PATTERN,
        max_length=2048,
        description="http(s) address of a public host (no IP address, no internal name)",
    )


class RejectIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    reasons: list[RejectionReason] = Field(min_length=1, max_length=10)
    documents: dict[str, RejectionReason] = Field(
        default_factory=dict,
        description="document id → reason code for each document turned down",
        max_length=50,
    )


#: a browser sends the file's own name; a path, a control character or a very long
#: name is an attack or a broken client, refused before anything is read
_MAX_FILENAME = 255


def check_filename(name: str | None) -> None:
    if not name:
        return
    if (
        len(name) > _MAX_FILENAME
        or "/" in name
        or "\\" in name
        or ".." in name
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
    ):
        raise UploadRefused("invalid_filename")


def _reason_text(review: KycReview, doc: dict[str, Any]) -> str | None:
    if not doc["reason"]:
        return None
    return doc.get("reason_message") or reason_message(doc["reason"], review.contractor_type)


def review_out(app: KycService, review: KycReview, *, for_reviewer: bool = False) -> ReviewOut:
    evaluation = app.evaluation(review)
    return ReviewOut(
        review_id=review.id,
        account_id=review.account_id,
        contractor_type=review.contractor_type,
        status=STATUS_NAMES.get(review.status, review.status),  # type: ignore[arg-type]
        revision=review.revision,
        documents=[
            DocumentOut(
                document_id=UUID(doc_id),
                document_type=doc["document_type"],
                name=DOCUMENT_NAMES.get(doc["document_type"], doc["document_type"]),
                side=doc["side"],
                status=doc["status"],  # type: ignore[arg-type]
                reason=doc["reason"] or None,
                reason_message=_reason_text(review, dict(doc)),
                problems=problems_out(evaluation, doc_id),
                scan=doc["scan"],  # type: ignore[arg-type]
                issued_on=doc["issued_on"],
                expires_on=doc["expires_on"],
                revision=doc["revision"],
                media_type=doc["media_type"],
                size=doc["size"],
                uploaded_at=doc["uploaded_at"],
            )
            for doc_id, doc in review.documents.items()
        ],
        missing=[ReasonOut(code=m.code, message=m.message_ja) for m in evaluation.missing]
        if review.status in ("draft", "rejected", "expired")
        else [],
        reasons=list(review.reasons),
        reason_messages=[
            ReasonOut(code=code, message=reason_message(code, review.contractor_type))
            for code in review.reasons
        ],
        valid_until=review.valid_until,
        public_notice_url=review.public_notice_url,
        verification_method=app.verification_method,  # type: ignore[arg-type]
        decisions=[
            DecisionOut(
                revision=d["revision"],
                outcome=d["outcome"],  # type: ignore[arg-type]
                decided_at=d["decided_at"],
                reasons=list(d["reasons"]),
                reviewer_id=d["reviewer_id"] if for_reviewer else None,
            )
            for d in review.decisions
        ],
    )


def problems_out(evaluation: Evaluation, document_id: str) -> list[ReasonOut]:
    return [
        ReasonOut(code=p.code, message=p.message_ja)
        for p in evaluation.document_problems.get(document_id, [])
    ]


# -- the customer -------------------------------------------------------------------


@router.post("/documents", status_code=201, response_model=UploadedOut, responses=_UPLOAD)
async def upload_document(
    caller: CustomerDep,
    app: KycDep,
    document_type: Annotated[
        Literal[DocumentType, RefusedDocumentType],
        Form(description="international_drivers_license is known and refused (422)"),
    ],
    file: Annotated[UploadFile, File(description="JPEG, PNG, PDF or HEIC, at most 10 MiB")],
    side: Annotated[Side | None, Form()] = None,
    issued_on: Annotated[date | None, Form()] = None,
    expires_on: Annotated[date | None, Form()] = None,
    website_url: Annotated[
        str | None,
        Form(
            pattern=URL_PATTERN,
            max_length=2048,
            description="corporations: the website or public notice",
        ),
    ] = None,
    fixed_phone: Annotated[
        str | None,
        Form(max_length=40, description="corporations: a fixed phone number (0AB-J)"),
    ] = None,
) -> UploadedOut:
    """Upload an identity document (identified by its content; images are re-encoded);
    corporations may give their website and fixed phone with it."""
    if document_type in REFUSED_DOCUMENT_TYPES:
        raise errors.DocumentTypeRefusedError(REFUSED_DOCUMENT_TYPES[document_type])
    if website_url is not None:
        # refused before anything is stored: a bad URL, or an individual's
        check_public_url(website_url, "website_url")
        mine = await anyio.to_thread.run_sync(app.review_of, caller.subject_uuid)
        if mine.contractor_type == "individual":
            raise errors.NotForIndividualsError("website_url")
    if fixed_phone is not None and parse_japanese_fixed_line(fixed_phone) is None:
        raise RuleViolationError(
            errors=[
                FieldProblem(
                    "fixed_phone",
                    "fixed_line_required",
                    "固定電話番号（市外局番から始まる10桁）を入力してください。"
                    "携帯電話・IP電話・フリーダイヤル等は使用できません。",
                )
            ]
        )

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(64 * 1024):
            yield chunk

    try:
        check_filename(file.filename)
        data = await read_limited(chunks())
        # the original bytes are scanned before anything else touches them
        await anyio.to_thread.run_sync(require_clean, app.scanner, data)
        inspected = await anyio.to_thread.run_sync(inspect, data, file.content_type, file.filename)
    except UploadRefused as exc:
        raise errors.UploadRefusedError(exc.code, exc.message_ja, exc.status) from None
    if document_type in CARDS and side is None:
        side = "front"
    document_id = await anyio.to_thread.run_sync(
        app.upload_document,
        UploadDocument(
            account_id=caller.subject_uuid,
            document_type=document_type,
            side=side if document_type in CARDS else None,
            issued_on=issued_on,
            expires_on=expires_on,
            content=inspected.content,
            media_type=inspected.media_type,
            display_name=safe_filename(file.filename),
        ),
    )
    if website_url is not None:
        await anyio.to_thread.run_sync(app.set_public_notice, caller.subject_uuid, website_url)
    if fixed_phone is not None:
        await anyio.to_thread.run_sync(app.give_fixed_phone, caller.subject_uuid)
    review = await anyio.to_thread.run_sync(app.review_of, caller.subject_uuid)
    return UploadedOut(
        document_id=document_id,
        problems=problems_out(app.evaluation(review), str(document_id)),
        review=review_out(app, review),
    )


@router.get("/reviews/me", response_model=ReviewOut, responses=_OWNER)
def read_my_review(caller: CustomerDep, app: KycDep) -> ReviewOut:
    """Your screening: status, documents, and what is still missing (in Japanese)."""
    return review_out(app, app.review_of(caller.subject_uuid))


@router.put("/reviews/me/public-notice", response_model=ReviewOut, responses=_UPLOAD)
def set_public_notice(body: PublicNoticeIn, caller: CustomerDep, app: KycDep) -> ReviewOut:
    """A corporation's website URL or equivalent public notice (法人・テレマ only)."""
    url = check_public_url(body.url, "url")
    return review_out(app, app.set_public_notice(caller.subject_uuid, url))


def _attachment(content: bytes, media_type: str, document_id: UUID) -> Response:
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(
        media_type, "bin"
    )
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document_id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


_FILE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {}}}}


@router.get("/documents/{document_id}", response_class=Response, responses={**_FILE, **_OWNER})
def download_my_document(document_id: UUID, caller: CustomerDep, app: KycDep) -> Response:
    """One of your documents, as an attachment."""
    review = app.review_of(caller.subject_uuid)
    if str(document_id) not in review.documents:
        raise errors.DocumentNotFoundError
    doc = review.documents[str(document_id)]
    return _attachment(app.document_content(review, document_id), doc["media_type"], document_id)


# -- reviewers ---------------------------------------------------------------------


@router.get("/reviews", response_model=list[QueueItemOut], responses=_REVIEWER)
async def review_queue(
    caller: ReviewerDep,
    reviews: ReviewsDep,
    status: Annotated[
        Literal["submitted", "in_review", "approved", "rejected", "expired"], Query()
    ] = "submitted",
) -> list[QueueItemOut]:
    """Reviews in one state, oldest submission first (reviewer)."""
    return [
        QueueItemOut(
            review_id=r.review_id,
            account_id=r.account_id,
            status=r.status,
            revision=r.revision,
            submitted_at=r.submitted_at,
        )
        # never one's own account
        for r in await reviews.with_status(status, excluding=caller.subject_uuid)
    ]


def _reviewable(app: KycService, review_id: UUID, caller: Caller) -> KycReview:
    review = app.get_review(review_id)
    if review.account_id == caller.subject_uuid:
        raise errors.OwnAccountError
    return review


def _visible(app: KycService, review_id: UUID, caller: Caller) -> KycReview:
    """A reviewer sees any review but their own account's; a customer only their own
    (anyone else's is 404, as if it did not exist)."""
    if caller.has_role("reviewer"):
        return _reviewable(app, review_id, caller)
    review = app.get_review(review_id)
    if review.account_id != caller.subject_uuid:
        raise errors.ReviewNotFoundError
    return review


@router.get("/reviews/{review_id}", response_model=ReviewOut, responses=_REVIEWER)
def read_review(review_id: UUID, caller: ReaderDep, app: KycDep) -> ReviewOut:
    """A review with its documents (a reviewer; a customer sees only their own)."""
    review = _visible(app, review_id, caller)
    return review_out(app, review, for_reviewer=caller.has_role("reviewer"))


@router.get(
    "/reviews/{review_id}/documents/{document_id}",
    response_class=Response,
    responses={**_FILE, **_REVIEWER},
)
def download_document(
    review_id: UUID, document_id: UUID, caller: ReaderDep, app: KycDep
) -> Response:
    """A document of a review, as an attachment (a reviewer; a customer only their own)."""
    review = _visible(app, review_id, caller)
    if str(document_id) not in review.documents:
        raise errors.DocumentNotFoundError
    doc = review.documents[str(document_id)]
    return _attachment(app.document_content(review, document_id), doc["media_type"], document_id)


@router.post("/reviews/{review_id}/claim", response_model=ReviewOut, responses=_REVIEWER)
def claim_review(review_id: UUID, caller: ReviewerDep, app: KycDep) -> ReviewOut:
    """Take a submitted review (reviewer)."""
    _reviewable(app, review_id, caller)
    return review_out(app, app.claim_review(review_id, str(caller.subject_uuid)), for_reviewer=True)


@router.post("/reviews/{review_id}/approve", response_model=ReviewOut, responses=_REVIEWER)
def approve_review(review_id: UUID, caller: ReviewerDep, app: KycDep) -> ReviewOut:
    """Approve (reviewer); valid until the earliest validity of the documents."""
    _reviewable(app, review_id, caller)
    return review_out(
        app,
        app.approve_review(DecideReview(review_id, str(caller.subject_uuid))),
        for_reviewer=True,
    )


@router.post("/reviews/{review_id}/reject", response_model=ReviewOut, responses=_REVIEWER)
def reject_review(review_id: UUID, body: RejectIn, caller: ReviewerDep, app: KycDep) -> ReviewOut:
    """Reject with reason codes, for the review and for each document turned down."""
    review = _reviewable(app, review_id, caller)
    unknown = [d for d in body.documents if d not in review.documents]
    if unknown:
        raise RuleViolationError(
            errors=[
                FieldProblem(f"documents.{d}", "unknown_document", "この審査の書類ではありません。")
                for d in unknown
            ]
        )
    return review_out(
        app,
        app.reject_review(
            DecideReview(
                review_id,
                str(caller.subject_uuid),
                tuple(body.reasons),
                tuple(body.documents.items()),
            )
        ),
        for_reviewer=True,
    )
