"""Who may see and decide what, on both stacks: a customer sees only their own review and
documents (another's is 404), never the reviewers' routes (403); a reviewer never their own
account (403 ``own_account``); nobody anonymous (401). And the reviewers' workflow at its
edges: the queue's order, an incomplete approval, an unknown document in a rejection, an
upload while in review, and what is still missing, in Japanese."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
REVIEWER = "11111111-1111-4111-8111-111111111111"
REJECTION = {"reasons": ["other"]}


def assert_problem(reply: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, (reply.request.method, reply.request.url, reply.text)
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = reply.json()
    assert problem["status"] == status
    if code is not None:
        assert problem["code"] == code, problem
    return problem


async def submitted(s: Any) -> tuple[uuid.UUID, str, str]:
    """A new individual whose driver's licence made a complete set: (account, review, doc)."""
    account = await s.register()
    reply = await s.licence(account)
    assert reply.status_code == 201, reply.text
    review = reply.json()["review"]
    assert review["status"] == "submitted"
    return account, review["review_id"], reply.json()["document_id"]


async def queue(s: Any, headers: dict[str, str]) -> list[str]:
    reply = await s.client.get("/reviews", params={"status": "submitted"}, headers=headers)
    assert reply.status_code == 200, reply.text
    return [item["review_id"] for item in reply.json()]


def indexed(s: Any, *review_ids: str) -> Any:
    store = s.runtime.api.state.review_store

    async def ready() -> bool:
        listed = {str(r.review_id) for r in await store.with_status("submitted")}
        return set(review_ids) <= listed

    return ready


# --- customers ---------------------------------------------------------------------


async def test_another_customers_review_and_documents_are_not_found(screening: Any) -> None:
    """GET /documents/{id} of someone else's document is 404, like an id naming nothing;
    GET /reviews/me shows one's own review only."""
    s = screening
    owner, owner_review, document_id = await submitted(s)
    other = await s.register()

    mine = await s.client.get(f"/documents/{document_id}", headers=s.auth(owner))
    assert mine.status_code == 200, mine.text
    theirs = await s.client.get(f"/documents/{document_id}", headers=s.auth(other))
    assert_problem(theirs, 404, "document_not_found")
    assert mine.content not in theirs.content
    nothing = await s.client.get(f"/documents/{uuid.uuid4()}", headers=s.auth(owner))
    assert_problem(nothing, 404, "document_not_found")
    # a customer without a review yet (not registered here) sees nobody else's either
    stranger = uuid.uuid4()
    assert_problem(await s.client.get(f"/documents/{document_id}", headers=s.auth(stranger)), 404)
    assert_problem(await s.client.get("/reviews/me", headers=s.auth(stranger)), 404)

    seen = await s.my_review(other)
    assert (seen["account_id"], seen["status"], seen["documents"]) == (str(other), "pending", [])
    assert seen["review_id"] != owner_review
    assert document_id not in str(seen)
    own = await s.my_review(owner)
    assert (own["account_id"], own["review_id"]) == (str(owner), owner_review)
    assert [d["document_id"] for d in own["documents"]] == [document_id]


async def test_a_customer_cannot_use_the_reviewers_routes(screening: Any) -> None:
    """The queue and the decisions are the reviewers' (403), on one's own review too; a
    review and its documents by id a customer reads only when they are their own, anyone
    else's is 404 as if it did not exist."""
    s = screening
    account, review_id, document_id = await submitted(s)
    _, other_review, other_document = await submitted(s)
    customer = s.auth(account)

    for status in ("submitted", "in_review", "approved"):
        reply = await s.client.get("/reviews", params={"status": status}, headers=customer)
        assert_problem(reply, 403, "forbidden")
    for target in (review_id, other_review):
        for action, body in (("claim", None), ("approve", None), ("reject", REJECTION)):
            reply = await s.client.post(f"/reviews/{target}/{action}", json=body, headers=customer)
            assert_problem(reply, 403, "forbidden")

    theirs = await s.client.get(f"/reviews/{other_review}", headers=customer)
    assert_problem(theirs, 404, "review_not_found")
    for document in (other_document, document_id):
        reply = await s.client.get(
            f"/reviews/{other_review}/documents/{document}", headers=customer
        )
        assert_problem(reply, 404, "review_not_found")
    # their own review, by id, with its own documents only
    own = await s.client.get(f"/reviews/{review_id}", headers=customer)
    assert own.status_code == 200, own.text
    assert own.json()["account_id"] == str(account)
    crossed = await s.client.get(
        f"/reviews/{review_id}/documents/{other_document}", headers=customer
    )
    assert_problem(crossed, 404, "document_not_found")
    file = await s.client.get(f"/reviews/{review_id}/documents/{document_id}", headers=customer)
    assert file.status_code == 200, file.text
    assert file.headers["content-disposition"].startswith("attachment")

    for review in (review_id, other_review):
        current = s.app.get_review(uuid.UUID(review))
        assert (current.status, current.reviewer_id, current.decisions) == ("submitted", "", [])


async def test_nobody_anonymous_gets_in(screening: Any) -> None:
    s = screening
    account, review_id, document_id = await submitted(s)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        (
            "POST",
            "/documents",
            {
                "data": {"document_type": "passport"},
                "files": {"file": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")},
            },
        ),
        ("GET", "/reviews/me", {}),
        ("PUT", "/reviews/me/public-notice", {"json": {"url": "https://example.jp/"}}),
        ("GET", f"/documents/{document_id}", {}),
        ("GET", "/reviews", {}),
        ("GET", f"/reviews/{review_id}", {}),
        ("GET", f"/reviews/{review_id}/documents/{document_id}", {}),
        ("POST", f"/reviews/{review_id}/claim", {}),
        ("POST", f"/reviews/{review_id}/approve", {}),
        ("POST", f"/reviews/{review_id}/reject", {"json": REJECTION}),
    ]
    for method, url, extra in calls:
        assert_problem(await s.client.request(method, url, **extra), 401)
        forged = {"Authorization": "Bearer not-a-token"}
        assert_problem(await s.client.request(method, url, headers=forged, **extra), 401)
    assert (await s.my_review(account))["status"] == "submitted"


# --- reviewers ---------------------------------------------------------------------


async def test_a_reviewer_cannot_review_their_own_account(screening: Any) -> None:
    s = screening
    account, review_id, document_id = await submitted(s)
    own = s.auth(account, "reviewer")  # a staff member who is also this customer

    rejection = {"reasons": ["other"], "documents": {document_id: "document_unreadable"}}
    calls = [
        ("GET", f"/reviews/{review_id}", None),
        ("GET", f"/reviews/{review_id}/documents/{document_id}", None),
        ("POST", f"/reviews/{review_id}/claim", None),
        ("POST", f"/reviews/{review_id}/approve", None),
        ("POST", f"/reviews/{review_id}/reject", rejection),
    ]
    for method, url, body in calls:
        assert_problem(
            await s.client.request(method, url, json=body, headers=own), 403, "own_account"
        )

    review = s.app.get_review(uuid.UUID(review_id))
    assert (review.status, review.reviewer_id, review.decisions) == ("submitted", "", [])
    # another reviewer can
    approved = await s.client.post(
        f"/reviews/{review_id}/approve", headers=s.auth(REVIEWER, "reviewer")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


async def test_a_reviewer_can_download_a_reviews_document(screening: Any) -> None:
    s = screening
    account, review_id, document_id = await submitted(s)
    owners = await s.client.get(f"/documents/{document_id}", headers=s.auth(account))
    assert owners.status_code == 200, owners.text

    reply = await s.client.get(
        f"/reviews/{review_id}/documents/{document_id}", headers=s.auth(REVIEWER, "reviewer")
    )
    assert reply.status_code == 200, reply.text
    assert reply.content == owners.content
    assert reply.content.startswith(b"\xff\xd8\xff")
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.headers["content-disposition"].startswith("attachment")
    assert reply.headers["x-content-type-options"] == "nosniff"

    # a document of another review is not reachable through this one
    _, _, other_document = await submitted(s)
    crossed = await s.client.get(
        f"/reviews/{review_id}/documents/{other_document}", headers=s.auth(REVIEWER, "reviewer")
    )
    assert_problem(crossed, 404, "document_not_found")


async def test_decisions_that_do_not_fit_are_refused_and_change_nothing(screening: Any) -> None:
    """Approving an incomplete review is 409; a rejection naming a document that is not the
    review's (unknown, or another review's) is 422 naming it."""
    s = screening
    reviewer = s.auth(REVIEWER, "reviewer")
    draft_account = await s.register()
    one = await s.upload(draft_account, "residence_certificate", issued_on=str(s.app.today()))
    assert one.status_code == 201, one.text
    assert one.json()["review"]["status"] == "pending"
    draft_review = one.json()["review"]["review_id"]

    incomplete = await s.client.post(f"/reviews/{draft_review}/approve", headers=reviewer)

    assert_problem(incomplete, 409, "incomplete_set")
    review = await s.my_review(draft_account)
    assert (review["status"], review["valid_until"]) == ("pending", None)
    assert not s.app.get_review(uuid.UUID(draft_review)).decisions

    account, review_id, document_id = await submitted(s)
    for unknown in (str(uuid.uuid4()), one.json()["document_id"]):
        reply = await s.client.post(
            f"/reviews/{review_id}/reject",
            json={
                "reasons": ["document_unreadable"],
                "documents": {document_id: "document_unreadable", unknown: "document_unreadable"},
            },
            headers=reviewer,
        )
        problem = assert_problem(reply, 422)
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [
            (f"documents.{unknown}", "unknown_document")
        ]

    review = await s.my_review(account)
    assert review["status"] == "submitted"
    assert [d["status"] for d in review["documents"]] == ["pending"]
    assert not s.app.get_review(uuid.UUID(review_id)).decisions


async def test_the_queue_is_oldest_first_and_never_the_reviewers_own_account(
    screening: Any,
) -> None:
    s = screening
    # registered in one order, submitted in another: the queue follows the submissions
    own_account, second_account, first_account = [await s.register() for _ in range(3)]
    ids = {}
    for account in (first_account, own_account, second_account):
        reply = await s.licence(account)
        assert reply.status_code == 201, reply.text
        assert reply.json()["review"]["status"] == "submitted"
        ids[account] = reply.json()["review"]["review_id"]
    first, own, second = ids[first_account], ids[own_account], ids[second_account]
    # a review still missing documents is not in the queue
    draft_account = await s.register()
    draft = await s.upload(draft_account, "residence_certificate", issued_on=str(s.app.today()))
    assert draft.status_code == 201, draft.text
    await s.wait_for(indexed(s, first, own, second))

    listed = await s.client.get("/reviews", headers=s.auth(REVIEWER, "reviewer"))
    assert listed.status_code == 200, listed.text
    items = listed.json()
    assert [i["review_id"] for i in items] == [first, own, second]
    assert [i["account_id"] for i in items] == [
        str(first_account),
        str(own_account),
        str(second_account),
    ]
    stamps = [i["submitted_at"] for i in items]
    assert all(stamps) and stamps == sorted(stamps)
    assert await queue(s, s.auth(own_account, "reviewer")) == [first, second]

    # a claimed review leaves the submitted queue
    claimed = await s.client.post(f"/reviews/{first}/claim", headers=s.auth(REVIEWER, "reviewer"))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "in_review"
    store = s.runtime.api.state.review_store

    async def left_the_queue() -> bool:
        return first not in {str(r.review_id) for r in await store.with_status("submitted")}

    await s.wait_for(left_the_queue)
    assert await queue(s, s.auth(own_account, "reviewer")) == [second]


async def test_no_upload_while_in_review_or_approved(screening: Any) -> None:
    s = screening
    account, review_id, _ = await submitted(s)
    reviewer = s.auth(REVIEWER, "reviewer")
    claimed = await s.client.post(f"/reviews/{review_id}/claim", headers=reviewer)
    assert claimed.status_code == 200, claimed.text
    files = s.vault_files(account)
    version = s.app.get_review(uuid.UUID(review_id)).version

    refused = await s.upload(account, "residence_certificate", issued_on=str(s.app.today()))
    assert_problem(refused, 409, "review_not_open")
    assert s.vault_files(account) == files
    assert s.app.get_review(uuid.UUID(review_id)).version == version

    approved = await s.client.post(f"/reviews/{review_id}/approve", headers=reviewer)
    assert approved.status_code == 200, approved.text
    files = s.vault_files(account)
    again = await s.licence(account)
    assert_problem(again, 409, "review_not_open")
    assert s.vault_files(account) == files
    review = await s.my_review(account)
    assert (review["status"], len(review["documents"])) == ("approved", 1)


async def test_an_individual_sees_what_is_missing_in_japanese(screening: Any) -> None:
    s = screening
    account = await s.register()

    def check(missing: list[dict[str, str]]) -> None:
        assert missing
        for item in missing:
            assert item["code"]
            assert JAPANESE.search(item["message"]), item
            assert not re.search(r"[{}]", item["message"]), item  # every placeholder filled

    fresh = await s.my_review(account)
    assert (fresh["status"], fresh["documents"]) == ("pending", [])
    check(fresh["missing"])

    # one document of the second group is not enough: still something missing
    one = await s.upload(account, "residence_certificate", issued_on=str(s.app.today()))
    assert one.status_code == 201, one.text
    check(one.json()["review"]["missing"])
    check((await s.my_review(account))["missing"])

    # a one-document ID completes the set: submitted, nothing missing
    done = await s.licence(account)
    assert done.status_code == 201, done.text
    assert (done.json()["review"]["status"], done.json()["review"]["missing"]) == (
        "submitted",
        [],
    )
