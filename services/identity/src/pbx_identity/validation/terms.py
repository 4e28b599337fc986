"""The published terms (規約): the privacy policy and the terms of service, by version
(``data/terms/index.json``). A registration accepts the version in effect today; one
accepted from a page shown before a revision is refused, so the customer reads it again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

TermsDocument = Literal["privacy_policy", "terms_of_service"]
TERMS_DOCUMENTS: tuple[TermsDocument, ...] = ("privacy_policy", "terms_of_service")

TERMS_VERSION_OUTDATED = "terms_version_outdated"
TERMS_VERSION_OUTDATED_MESSAGE = (
    "{title}が改定されました。最新の内容をご確認のうえ、改めて同意してください。"
)
UNKNOWN_TERMS_VERSION = "unknown_terms_version"
UNKNOWN_TERMS_VERSION_MESSAGE = "{title}のこの版は公開されていません。"


@dataclass(frozen=True)
class TermsVersion:
    document: TermsDocument
    title: str
    version: str
    effective_from: date
    text: str


@cache
def published_terms() -> dict[TermsDocument, tuple[TermsVersion, ...]]:
    """Every published version of each document, oldest first (read once)."""
    folder = resources.files("pbx_identity.validation").joinpath("data", "terms")
    index = json.loads(folder.joinpath("index.json").read_text(encoding="utf-8"))
    published: dict[TermsDocument, tuple[TermsVersion, ...]] = {}
    for document in TERMS_DOCUMENTS:
        entry = index["documents"][document]
        versions = [
            TermsVersion(
                document=document,
                title=entry["title"],
                version=v["version"],
                effective_from=date.fromisoformat(v["effective_from"]),
                text=folder.joinpath(v["file"]).read_text(encoding="utf-8").strip(),
            )
            for v in entry["versions"]
        ]
        published[document] = tuple(sorted(versions, key=lambda v: v.effective_from))
    return published


def current_terms(document: TermsDocument, today: date) -> TermsVersion:
    """The version in effect on ``today`` (the latest effective on or before it)."""
    in_effect = [v for v in published_terms()[document] if v.effective_from <= today]
    return in_effect[-1] if in_effect else published_terms()[document][0]


def terms_version_problem(
    document: TermsDocument, version: str, today: date
) -> tuple[str, str] | None:
    """``(code, message)`` when ``version`` is not the one to accept today, else None."""
    current = current_terms(document, today)
    if version == current.version:
        return None
    known = {v.version for v in published_terms()[document]}
    if version in known:
        return TERMS_VERSION_OUTDATED, TERMS_VERSION_OUTDATED_MESSAGE.format(title=current.title)
    return UNKNOWN_TERMS_VERSION, UNKNOWN_TERMS_VERSION_MESSAGE.format(title=current.title)
