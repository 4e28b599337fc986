"""The reviews-by-status read model on both stores (memory, PostgreSQL): the queue's order
and own-account exclusion from the table, resuming from the stored position, rebuilding
from zero, and the approvals the expiry timer reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from pbx_kyc.projections import ReviewChange, ReviewProjection, ReviewRow

REVIEWER = "11111111-1111-4111-8111-111111111111"
STATUSES = ("draft", "submitted", "in_review", "approved", "rejected", "expired")


async def caught_up(s: Any) -> None:
    """Until the live projection has every notification of the kyc log."""
    projection = s.runtime.api.state.review_projection

    async def done() -> bool:
        return bool(await projection.lag() == 0)

    await s.wait_for(done)


async def reviews(s: Any, *accounts: uuid.UUID) -> list[str]:
    """Each account's review submitted (a driver's licence), in this order."""
    ids = []
    for account in accounts:
        reply = await s.licence(account)
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["review"]["review_id"])
    return ids


async def snapshot(store: Any) -> dict[str, list[ReviewRow]]:
    rows = {status: await store.with_status(status) for status in STATUSES}
    return rows


async def test_the_queue_from_the_table_is_oldest_first_without_ones_own_account(
    screening: Any,
) -> None:
    s = screening
    accounts = [await s.register() for _ in range(3)]
    later, mine, earlier = accounts
    first, second, third = await reviews(s, earlier, mine, later)
    await caught_up(s)
    store = s.runtime.api.state.review_store

    queue = await store.with_status("submitted")
    assert [str(r.review_id) for r in queue] == [first, second, third]
    assert [r.account_id for r in queue] == [earlier, mine, later]
    assert all(r.submitted_at is not None and r.revision == 1 for r in queue)
    assert [str(r.review_id) for r in await store.with_status("submitted", excluding=mine)] == [
        first,
        third,
    ]
    listed = await s.client.get("/reviews", headers=s.auth(mine, "reviewer"))
    assert [i["review_id"] for i in listed.json()] == [first, third]
    assert await store.with_status("in_review") == []


async def test_a_restart_reads_only_what_is_new(screening: Any) -> None:
    s = screening
    account = await s.register()
    [review_id] = await reviews(s, account)
    await caught_up(s)
    store = s.runtime.api.state.review_store
    head = await store.position()
    assert head > 0

    again = ReviewProjection(s.app, store)  # a new process on the same store
    await again.start()
    assert again.load_position() == head
    assert await again.drain() == 0
    claimed = await s.client.post(
        f"/reviews/{review_id}/claim", headers=s.auth(REVIEWER, "reviewer")
    )
    assert claimed.status_code == 200, claimed.text
    assert await again.drain() == 1  # the claim only, not the whole log
    [row] = await store.with_status("in_review")
    assert (str(row.review_id), row.account_id) == (review_id, account)
    assert await store.position() > head


async def test_a_rebuild_from_zero_gives_the_rows_the_live_projection_made(
    screening: Any,
) -> None:
    s = screening
    reviewer = s.auth(REVIEWER, "reviewer")
    accounts = [await s.register() for _ in range(4)]
    approved, rejected, claimed, waiting = await reviews(s, *accounts)
    await s.register()  # a draft: no documents yet
    for review_id, action, body in (
        (approved, "approve", None),
        (rejected, "reject", {"reasons": ["other"]}),
        (claimed, "claim", None),
    ):
        reply = await s.client.post(f"/reviews/{review_id}/{action}", json=body, headers=reviewer)
        assert reply.status_code == 200, reply.text
    # resubmitted after the rejection: a new revision, submitted later than the others
    again = await s.licence(accounts[1])
    assert again.status_code == 201, again.text
    await caught_up(s)
    store = s.runtime.api.state.review_store
    projection = s.runtime.api.state.review_projection
    live = await snapshot(store)
    assert [str(r.review_id) for r in live["submitted"]] == [waiting, rejected]
    assert live["submitted"][1].revision == 2
    assert [str(r.review_id) for r in live["approved"]] == [approved]
    head = await store.position()

    async def nothing() -> AsyncIterator[tuple[list[ReviewChange], int]]:
        for _ in ():
            yield [], 0

    assert await store.rebuild(nothing()) == 0  # emptied
    assert all(rows == [] for rows in (await snapshot(store)).values())
    assert await projection.rebuild() == head
    assert await snapshot(store) == live
    assert await store.position() == head


async def test_the_expiry_timer_reads_the_approvals_past_their_validity(screening: Any) -> None:
    s = screening
    account = await s.register()
    [review_id] = await reviews(s, account)
    reply = await s.client.post(
        f"/reviews/{review_id}/approve", headers=s.auth(REVIEWER, "reviewer")
    )
    assert reply.status_code == 200, reply.text
    valid_until = reply.json()["valid_until"]
    await caught_up(s)
    store = s.runtime.api.state.review_store
    [row] = await store.with_status("approved")
    assert str(row.valid_until) == valid_until
    assert await store.approvals_ending_before(row.valid_until) == []
    assert await store.approvals_ending_before(row.valid_until + timedelta(days=1)) == [
        row.review_id
    ]
