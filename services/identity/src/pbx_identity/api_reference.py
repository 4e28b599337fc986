"""Reference data for the registration and account forms, so a gateway hard-codes none:
prefectures (the pull-down), the terms to accept (texts and versions), and the postal
code lookup (郵便番号から住所入力). Public: the forms are shown before any login."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from pbx_identity.validation.terms import (
    TERMS_DOCUMENTS,
    TermsVersion,
    current_terms,
    published_terms,
)
from pbx_kit.errors import FieldProblem, NotFoundError, RuleViolationError
from pbx_kit.jp.errors import RuleViolation
from pbx_kit.jp.postal import normalize_postal_code
from pbx_kit.jp.postal_lookup import lookup_postal_code
from pbx_kit.jp.prefectures import PREFECTURES
from pbx_kit.problems import problem_responses

router = APIRouter(prefix="/reference", tags=["reference data"])
JST = ZoneInfo("Asia/Tokyo")


class PrefectureOut(BaseModel):
    code: str = Field(description="JIS X 0401 (01–47), 99 = 海外")
    name: str


class TermsOut(BaseModel):
    document: Literal["privacy_policy", "terms_of_service"]
    title: str
    version: str = Field(description="send it back as terms.<document>_version when accepted")
    effective_from: date
    text: str


class PlaceOut(BaseModel):
    prefecture_code: str
    prefecture: str
    prefecture_kana: str
    city: str
    city_kana: str
    town: str = Field(description="町域 (empty where Japan Post lists none)")
    town_kana: str
    office_name: str = Field(description="a business's own postal code: its name")
    street: str = Field(description="a business's own postal code: its street number")


class PostalCodeOut(BaseModel):
    postal_code: str
    places: list[PlaceOut] = Field(description="one or more (a few codes name several towns)")


class PostalCodeNotFoundError(NotFoundError):
    code = "postal_code_not_found"
    message_ja = (
        "この郵便番号は日本郵便の郵便番号データに見つかりません。住所を直接入力してください。"
    )


@router.get("/prefectures", response_model=list[PrefectureOut])
def prefectures() -> list[PrefectureOut]:
    """The 47 prefectures in JIS order, then 海外 (99)."""
    return [PrefectureOut(code=code, name=name) for code, name in PREFECTURES]


@router.get("/terms", response_model=list[TermsOut])
def terms() -> list[TermsOut]:
    """The privacy policy and the terms of service in effect today, to show and accept."""
    today = datetime.now(JST).date()
    return [_terms_out(current_terms(document, today)) for document in TERMS_DOCUMENTS]


@router.get("/terms/versions", response_model=list[TermsOut])
def terms_versions() -> list[TermsOut]:
    """Every published version, oldest first (what an account accepted can be read again)."""
    return [_terms_out(v) for document in TERMS_DOCUMENTS for v in published_terms()[document]]


def _terms_out(version: TermsVersion) -> TermsOut:
    return TermsOut(
        document=version.document,
        title=version.title,
        version=version.version,
        effective_from=version.effective_from,
        text=version.text,
    )


@router.get(
    "/postal-codes/{postal_code}",
    response_model=PostalCodeOut,
    responses=problem_responses(404, s404="no such postal code in Japan Post's data"),
)
def postal_code(
    postal_code: Annotated[str, Path(max_length=16, description="1350064, 135-0064 or １３５…")],
) -> PostalCodeOut:
    """郵便番号から住所入力: prefecture, city and town, with their readings."""
    try:
        code = normalize_postal_code(postal_code)
    except RuleViolation as exc:
        raise RuleViolationError(
            exc.message, errors=[FieldProblem("postal_code", exc.code, exc.message)]
        ) from None
    places = lookup_postal_code(code)
    if not places:
        raise PostalCodeNotFoundError
    return PostalCodeOut(
        postal_code=code,
        places=[
            PlaceOut(
                prefecture_code=p.prefecture_code,
                prefecture=p.prefecture,
                prefecture_kana=p.prefecture_kana,
                city=p.city,
                city_kana=p.city_kana,
                town=p.town,
                town_kana=p.town_kana,
                office_name=p.office_name,
                street=p.street,
            )
            for p in places
        ],
    )
