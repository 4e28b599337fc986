"""Documents the rules say cannot count (SPEC §3, feedback at upload): the upload's answer
and the review say why, in Japanese, at once; the document is kept for the reviewer; an
approval never approves it, it is turned down with the rules' reason in the same decision.
A reviewer's own reasons are told in Japanese too, with a company's wording for companies.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ (``screening`` in conftest).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

REVIEWER = "22222222-2222-4222-8222-222222222222"


def document(review: dict[str, Any], document_id: str) -> dict[str, Any]:
    [found] = [d for d in review["documents"] if d["document_id"] == document_id]
    return found


async def test_an_expired_licence_says_why_at_upload_and_in_the_review(screening: Any) -> None:
    s = screening
    account = await s.register()
    today = s.app.today()
    expired_on = today - timedelta(days=1)
    response = await s.upload(
        account,
        "drivers_license",
        side="front",
        issued_on=str(today - timedelta(days=2000)),
        expires_on=str(expired_on),
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    [problem] = answer["problems"]
    assert problem["code"] == "expired"
    date_ja = f"{expired_on.year}年{expired_on.month}月{expired_on.day}日"
    assert problem["message"] == (
        f"運転免許証の有効期限（{date_ja}）が切れています。有効期限内のものをアップロードしてください。"
    )
    # kept (pending) for the reviewer, but it is not a complete set: what would complete it
    review = answer["review"]
    assert review["status"] == "pending"
    assert document(review, answer["document_id"])["problems"] == [problem]
    assert document(review, answer["document_id"])["status"] == "pending"
    assert [m["code"] for m in review["missing"]] == ["identity_document_required"]
    # the customer's review page says the same
    mine = await s.my_review(account)
    assert document(mine, answer["document_id"])["problems"] == [problem]


async def test_future_dates_and_withdrawn_types_say_why(screening: Any) -> None:
    s = screening
    account = await s.register()
    today = s.app.today()
    future = await s.upload(account, "utility_receipt", issued_on=str(today + timedelta(days=3)))
    assert future.status_code == 201, future.text
    assert [p["code"] for p in future.json()["problems"]] == ["issued_in_future"]
    assert "未来の日付" in future.json()["problems"][0]["message"]

    if today >= date(2025, 12, 1):  # paper health insurance cards end on 2025-11-30 (rules.json)
        card = await s.upload(
            account,
            "health_insurance_card",
            side="front",
            issued_on="2020-04-01",
            expires_on=str(today + timedelta(days=300)),
        )
        assert card.status_code == 201, card.text
        [problem] = card.json()["problems"]
        assert problem["code"] == "paper_health_insurance_card_abolished"
        assert problem["message"].startswith(
            "従来の健康保険証は2025年12月1日以降、本人確認書類として使えません"
        )


async def test_a_valid_document_has_no_problems(screening: Any) -> None:
    s = screening
    account = await s.register()
    response = await s.licence(account)
    assert response.status_code == 201, response.text
    assert response.json()["problems"] == []
    assert document(response.json()["review"], response.json()["document_id"])["problems"] == []


async def test_approval_turns_down_what_the_rules_reject_never_approves_it(
    screening: Any,
) -> None:
    s = screening
    account = await s.register()
    today = s.app.today()
    reviewer = s.auth(REVIEWER, "reviewer")
    stale = await s.upload(account, "utility_receipt", issued_on=str(today - timedelta(days=200)))
    assert [p["code"] for p in stale.json()["problems"]] == ["issued_too_long_ago"]
    good = await s.licence(account)
    assert good.json()["review"]["status"] == "submitted"
    review_id = good.json()["review"]["review_id"]

    approved = await s.client.post(f"/reviews/{review_id}/approve", headers=reviewer)
    assert approved.status_code == 200, approved.text
    review = approved.json()
    assert review["status"] == "approved"
    assert document(review, good.json()["document_id"])["status"] == "approved"
    turned_down = document(review, stale.json()["document_id"])
    assert (turned_down["status"], turned_down["reason"]) == ("rejected", "issued_too_long_ago")
    assert turned_down["reason_message"] == stale.json()["problems"][0]["message"]
    # the customer sees it the same way
    mine = document(await s.my_review(account), stale.json()["document_id"])
    assert (mine["status"], mine["reason_message"]) == ("rejected", turned_down["reason_message"])


async def test_a_reviewers_reasons_are_told_in_japanese_with_a_companys_wording(
    screening: Any,
) -> None:
    s = screening
    reviewer = s.auth(REVIEWER, "reviewer")
    today = s.app.today()
    for contractor_type, wording in (("individual", "氏名"), ("corporation", "会社名")):
        account = await s.register(contractor_type, fixed_line=True)
        upload = await s.licence(account)
        assert upload.status_code == 201, upload.text
        review_id = upload.json()["review"]["review_id"]
        if upload.json()["review"]["status"] != "submitted":
            # a corporation's set needs the registry, the licence's back and a website
            await s.upload(
                account,
                "corporate_registry",
                issued_on=str(today - timedelta(days=10)),
            )
            await s.client.put(
                "/reviews/me/public-notice",
                json={"url": "https://www.example.co.jp/"},
                headers=s.auth(account),
            )
            await s.upload(
                account,
                "drivers_license",
                side="back",
                issued_on=str(today - timedelta(days=400)),
                expires_on=str(today + timedelta(days=500)),
            )
            state = (await s.my_review(account))["status"]
            assert state == "submitted", await s.my_review(account)
        rejected = await s.client.post(
            f"/reviews/{review_id}/reject",
            json={
                "reasons": ["name_mismatch"],
                "documents": {upload.json()["document_id"]: "name_mismatch"},
            },
            headers=reviewer,
        )
        assert rejected.status_code == 200, rejected.text
        mine = await s.my_review(account)
        [said] = mine["reason_messages"]
        assert said["code"] == "name_mismatch"
        assert wording in said["message"] and "アカウント管理ページ" in said["message"]
        assert document(mine, upload.json()["document_id"])["reason_message"] == said["message"]


async def test_a_reviewer_can_only_give_known_reason_codes(screening: Any) -> None:
    s = screening
    account = await s.register()
    upload = await s.licence(account)
    review_id = upload.json()["review"]["review_id"]
    refused = await s.client.post(
        f"/reviews/{review_id}/reject",
        json={"reasons": ["other"], "documents": {upload.json()["document_id"]: "looks fake"}},
        headers=s.auth(REVIEWER, "reviewer"),
    )
    assert refused.status_code == 422, refused.text
    assert (await s.my_review(account))["status"] == "submitted"


async def test_an_international_licence_is_refused_saying_what_to_send(screening: Any) -> None:
    s = screening
    account = await s.register()
    response = await s.upload(account, "international_drivers_license")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("document_type", "document_type_not_accepted")
    assert error["message"].startswith("国際運転免許証は本人確認書類としてお受けできません。")
    assert "日本の運転免許証" in error["message"]
    assert s.vault_files(account) == []
    assert (await s.my_review(account))["documents"] == []
    # an unknown type names the ones it takes
    unknown = await s.upload(account, "library_card")
    assert unknown.status_code == 422
    [error] = unknown.json()["errors"]
    assert error["message"].startswith("次のいずれかを指定してください: drivers_license、"), (
        unknown.text
    )
