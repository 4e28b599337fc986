"""The whole review cycle on both buses: upload → submitted → rejected → resubmit →
approved → expired, each event seen by a consumer exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pbx_events.envelope import parse


async def test_the_whole_review_cycle(screening: Any) -> None:
    s = screening
    account = await s.register()
    today = s.app.today()
    reviewer = s.auth("11111111-1111-4111-8111-111111111111", "reviewer")

    # one group-B document is not enough: the review says what is missing
    first = await s.upload(account, "residence_certificate", issued_on=str(today))
    assert first.status_code == 201, first.text
    assert first.json()["review"]["status"] == "pending"
    assert first.json()["review"]["missing"]
    kept = first.json()["document_id"]
    # a driver's licence is a one-document ID: the set is complete and submitted at once
    licence = await s.upload(
        account,
        "drivers_license",
        side="front",
        issued_on=str(today - timedelta(days=400)),
        expires_on=str(today + timedelta(days=500)),
    )
    assert licence.status_code == 201, licence.text
    assert licence.json()["review"]["status"] == "submitted"
    review_id = licence.json()["review"]["review_id"]
    bad_document = licence.json()["document_id"]

    store = s.runtime.api.state.review_store
    await s.wait_for(lambda: store.with_status("submitted"))
    queue = (await s.client.get("/reviews", headers=reviewer)).json()
    assert [q["review_id"] for q in queue] == [review_id]

    rejected = await s.client.post(
        f"/reviews/{review_id}/reject",
        json={
            "reasons": ["document_unreadable"],
            "documents": {bad_document: "document_unreadable"},
        },
        headers=reviewer,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"

    # resubmission: a new revision keeps the residence certificate, not the rejected licence
    again = await s.upload(
        account,
        "drivers_license",
        side="front",
        issued_on=str(today - timedelta(days=10)),
        expires_on=str(today + timedelta(days=300)),
    )
    assert again.status_code == 201, again.text
    review = again.json()["review"]
    assert (review["status"], review["revision"]) == ("submitted", 2)
    statuses = {d["document_id"]: d["status"] for d in review["documents"]}
    assert (statuses[kept], statuses[bad_document]) == ("pending", "rejected")

    approved = await s.client.post(f"/reviews/{review_id}/approve", headers=reviewer)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["valid_until"] == str(today + timedelta(days=300))
    # every decision says who and when; the customer sees when and why, not who
    decisions = approved.json()["decisions"]
    assert [(d["revision"], d["outcome"]) for d in decisions] == [(1, "rejected"), (2, "approved")]
    assert {d["reviewer_id"] for d in decisions} == {"11111111-1111-4111-8111-111111111111"}
    mine = (await s.my_review(account))["decisions"]
    assert [(d["outcome"], d["reasons"], d["reviewer_id"]) for d in mine] == [
        ("rejected", ["document_unreadable"], None),
        ("approved", [], None),
    ]

    s.clock.now += timedelta(days=301)
    await s.wait_for(
        lambda: s.runtime.api.state.review_store.approvals_ending_before(s.app.today())
    )
    await s.runtime.api.state.expire_approvals_once()
    assert (await s.my_review(account))["status"] == "expired"

    expected = {
        "DocumentUploaded": 3,
        "KycSubmitted": 2,
        "KycRejected": 1,
        "KycApproved": 1,
        "KycExpired": 1,
    }
    await s.wait_for(lambda: all(len(s.of_type(k)) >= n for k, n in expected.items()))
    await asyncio.sleep(0.5)
    assert {k: len(s.of_type(k)) for k in expected} == expected
    assert parse(s.of_type("KycRejected")[0]).reasons == ["document_unreadable"]
    assert len({m.message_id for m in s.seen}) == len(s.seen)
