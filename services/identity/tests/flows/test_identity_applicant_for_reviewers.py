"""Reviewers compare documents with what the applicant registered (SPEC §3): a reviewer
reads an account's name, address and screening phone; nobody else can; every read is
logged with who read whose, never the values.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from structlog.testing import capture_logs


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_reviewer_reads_the_registered_name_address_and_phone(
    identity_system: Any,
) -> None:
    s = identity_system
    body = s.corporate_registration()
    body["contractor"]["phone"] = "090-1234-5678"
    customer = await s.customer(body)
    reviewer = await s.staff_token("reviewer")

    with capture_logs() as logs:
        response = await s.client.get(
            f"/accounts/{customer.account_id}/applicant", headers=bearer(reviewer)
        )
    assert response.status_code == 200, response.text
    applicant = response.json()
    contractor = body["contractor"]
    assert applicant["account_id"] == customer.account_id
    assert applicant["contractor_type"] == "corporation"
    assert (applicant["name"], applicant["name_kana"]) == (
        "株式会社サンプル",
        "カブシキガイシャサンプル",
    )
    # as stored: kana normalised (full-width space between family and given name)
    assert applicant["representative"] == {
        "name": "代表 花子",
        "name_kana": "ダイヒョウ\u3000ハナコ",
    }
    assert applicant["postal_code"].replace("-", "") == contractor["postal_code"].replace("-", "")
    assert applicant["prefecture"] == contractor["prefecture"]
    assert applicant["city"] == contractor["city"]
    assert applicant["phone"] == "090-1234-5678"
    assert applicant["phone_e164"] == "+819012345678"
    assert applicant["phone_is_fixed_line"] is False
    assert "email" not in applicant and "password" not in response.text

    [line] = [entry for entry in logs if entry["event"] == "applicant_read"]
    assert line["account_id"] == customer.account_id
    assert line["purpose"] == "kyc_review"
    assert line["reviewer_id"]
    logged = repr(logs)
    for value in ("株式会社サンプル", "代表 花子", contractor["city"], "1234-5678", "+8190"):
        assert value not in logged


async def test_an_individual_has_no_representative(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    reviewer = await s.staff_token("reviewer")
    response = await s.client.get(
        f"/accounts/{customer.account_id}/applicant", headers=bearer(reviewer)
    )
    assert response.status_code == 200, response.text
    assert response.json()["contractor_type"] == "individual"
    assert response.json()["representative"] is None
    assert response.json()["phone_is_fixed_line"] is True


async def test_only_reviewers_read_it(identity_system: Any) -> None:
    s = identity_system
    alice = await s.customer()
    bob = await s.customer()
    path = f"/accounts/{alice.account_id}/applicant"

    assert (await s.client.get(path)).status_code == 401
    # a customer, even the applicant: the account page is theirs, this view is staff's
    for customer in (alice, bob):
        refused = await s.client.get(path, headers=customer.headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert alice.login_id not in refused.text
    for role in ("warehouse", "auditor", "admin"):
        refused = await s.client.get(path, headers=bearer(await s.staff_token(role)))
        assert refused.status_code == 403, (role, refused.text)


async def test_an_unknown_or_staff_account_is_404(identity_system: Any) -> None:
    s = identity_system
    reviewer = await s.staff_token("reviewer")
    unknown = await s.client.get(f"/accounts/{uuid.uuid4()}/applicant", headers=bearer(reviewer))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "account_not_found"
    # a staff login is no applicant
    staff_id = jwt.decode(reviewer, options={"verify_signature": False})["sub"]
    staff = await s.client.get(f"/accounts/{staff_id}/applicant", headers=bearer(reviewer))
    assert staff.status_code == 404, staff.text
