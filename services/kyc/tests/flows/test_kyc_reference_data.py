"""The document types screening accepts today, with their Japanese names and needs, for
the upload form (GET /reference/document-types): public and read-only."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("stack_kind", ["memory"])
async def test_the_document_types_accepted_today(screening: Any) -> None:
    s = screening
    response = await s.client.get("/reference/document-types")
    assert response.status_code == 200, response.text
    answer = response.json()
    types = {t["document_type"]: t for t in answer["document_types"]}
    assert answer["supporting_documents_needed"] == 2
    licence = types["drivers_license"]
    assert licence["name"] == "運転免許証"
    assert licence["card"] is True
    assert licence["sides_for_individuals"] == ["front"]
    assert licence["sides_for_representatives"] == ["front", "back"]
    assert licence["requires_expiry"] is True
    assert "identity_document" in licence["groups"]
    assert "representative_id" in licence["groups"]
    assert types["residence_card"]["name"] == "在留カード（旧 外国人登録証明書）"
    assert types["my_number_card"]["refused_sides"] == ["back"]
    assert types["utility_receipt"]["max_age_months"] == 3
    assert types["corporate_registry"]["groups"] == ["registry"]
    assert answer["refused_types"]["international_drivers_license"] == "国際運転免許証"
    # withdrawn types are not offered (paper health insurance cards, 住基カード)
    if s.app.today().isoformat() >= "2026-01-01":
        assert "resident_register_card" not in types
        assert "health_insurance_card" not in types
    # every type offered is one the upload takes
    from typing import get_args

    from pbx_kyc.domain.documents import DocumentType

    assert set(types) <= set(get_args(DocumentType))
