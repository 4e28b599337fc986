"""The identity documents screening knows, with their Japanese names.

A document is identified by its type and, for cards, the side. The My Number
card's back side shows the My Number and must never be stored: it is refused
before anything is written.
"""

from __future__ import annotations

from typing import Literal

DocumentType = Literal[
    "drivers_license",
    "passport",
    "residence_card",
    "my_number_card",
    "health_insurance_card",
    "residence_certificate",
    "resident_register_card",
    "utility_receipt",
    "corporate_registry",
    "representative_id",
]
Side = Literal["front", "back"]

#: types customers try that never count, each with what to send instead
RefusedDocumentType = Literal["international_drivers_license"]
REFUSED_DOCUMENT_TYPES: dict[str, str] = {
    "international_drivers_license": (
        "国際運転免許証は本人確認書類としてお受けできません。日本の運転免許証、パスポート、"
        "在留カード、マイナンバーカード（表面）のいずれかをアップロードしてください。"
    ),
}

DOCUMENT_NAMES: dict[str, str] = {
    "drivers_license": "運転免許証",
    "passport": "パスポート",
    "residence_card": "在留カード（旧 外国人登録証明書）",
    "my_number_card": "マイナンバーカード（表面）",
    "health_insurance_card": "健康保険証",
    "residence_certificate": "住民票",
    "resident_register_card": "住民基本台帳カード",
    "utility_receipt": "公共料金の領収書",
    "corporate_registry": "登記簿謄本（履歴事項全部証明書）",
    "representative_id": "その他の顔写真付き本人確認書類",
}

#: documents that are cards (a side is given); the others are single sheets
CARDS = frozenset(
    {
        "drivers_license",
        "residence_card",
        "my_number_card",
        "health_insurance_card",
        "resident_register_card",
        "representative_id",
    }
)

#: (type, side) pairs that must never be stored
FORBIDDEN_SIDES = frozenset({("my_number_card", "back")})
