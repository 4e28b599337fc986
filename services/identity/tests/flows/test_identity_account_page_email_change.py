"""Changing the account's e-mail address end to end: a PATCH only notes the new address
(a link goes to it, a notice to the old one); the link's token applies the change once,
within 24 hours, for the newest request only, publishes AccountInfoChanged once and tells
the old address; the owner, a password reset or a lost race for the address stops it; and
reminder mails follow the address only once it is confirmed.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

import pbx_identity.app_account
from pbx_identity.mails import RESET_SUBJECT
from pbx_identity.mails_email_change import (
    COMPLETED_SUBJECT,
    CONFIRM_SUBJECT,
    REQUESTED_SUBJECT,
)
from pbx_kit.mail import mask_address

INFO = "identity.AccountInfoChanged.v1"
SHIPPING = "identity.ShippingAddressChanged.v1"


def fresh_email(tag: str) -> str:
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.jp"


async def request_change(s: Any, customer: Any, email: str, **contractor: Any) -> Any:
    response = await s.client.patch(
        "/accounts/me",
        json={"contractor": {"email": email, "email_confirmation": email, **contractor}},
        headers=customer.headers,
    )
    assert response.status_code == 200, response.text
    return response


async def link_token(s: Any, email: str, *, known: tuple[str, ...] = ()) -> str:
    """The token of the one confirmation mail to ``email`` whose token is not ``known``
    (the maildir does not keep the order)."""
    mails = await s.wait_for_mail(email, CONFIRM_SUBJECT, len(known) + 1)
    assert len(mails) == len(known) + 1
    [token] = {str(s.reset_token_in(m)) for m in mails} - set(known)
    return token


async def confirm(s: Any, token: str) -> Any:
    return await s.client.post("/accounts/email-confirmation", json={"token": token})


def assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem["detail"]


async def test_a_new_email_waits_for_confirmation_while_the_rest_of_the_change_applies(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    new_email = fresh_email("hanako")

    response = await request_change(s, customer, new_email, contact_phone="03-9876-5432")
    changed = response.json()
    assert changed["contractor"]["email"] == customer.email
    assert changed["contractor"]["contact_phone"] == "03-9876-5432"  # applied at once
    assert changed["pending_email"] == new_email
    assert changed["pending_email_expires_at"]
    assert [(w["field"], w["code"]) for w in changed["warnings"]] == [
        ("contractor.email", "email_confirmation_pending")
    ]
    me = (await s.me(customer.access_token)).json()
    assert me["contractor"]["email"] == customer.email
    assert me["pending_email"] == new_email
    assert "warnings" not in me

    # the new address gets the link, the old one a notice naming the new one only masked
    [link] = await s.wait_for_mail(new_email, CONFIRM_SUBJECT)
    body = link.get_content()
    assert f"{s.infra.settings.email_confirm_url}?token=" in body
    assert customer.login_id not in body
    [notice] = await s.wait_for_mail(customer.email, REQUESTED_SUBJECT)
    assert mask_address(new_email) in notice.get_content()
    assert new_email not in notice.get_content()
    assert s.mails(new_email, REQUESTED_SUBJECT) == []

    # only the contact phone's change went out; the address is not on the bus
    [info] = await s.wait_for(INFO, 1)
    assert new_email not in info.body.decode()


async def test_the_link_applies_the_change_once_and_tells_the_old_address(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    await s.wait_for(SHIPPING, 1, linger=0.2)  # the registration's own
    new_email = fresh_email("moved")
    await request_change(s, customer, new_email)
    token = await link_token(s, new_email)
    assert s.events(INFO) == []

    confirmed = await confirm(s, token)  # no login: the link may be opened anywhere
    assert confirmed.status_code == 204, confirmed.text
    me = (await s.me(customer.access_token)).json()
    assert me["contractor"]["email"] == new_email
    assert me["pending_email"] is None
    [info] = await s.wait_for(INFO, 1)
    assert info.body and new_email not in info.body.decode()
    [done] = await s.wait_for_mail(customer.email, COMPLETED_SUBJECT)
    assert mask_address(new_email) in done.get_content()

    # the same link again: already done, and nothing more happens
    assert_refused(await confirm(s, token), 409, "email_change_already_confirmed")
    await asyncio.sleep(0.3)
    assert len(s.events(INFO)) == 1
    assert len(s.mails(customer.email, COMPLETED_SUBJECT)) == 1

    # the old address is free for others, the new one is the account's
    assert (
        await s.client.post("/accounts", json=s.registration(customer.email))
    ).status_code == 201
    clash = await s.client.post("/accounts", json=s.registration(new_email))
    assert_refused(clash, 409, "email_taken")
    # the history says what happened, never the addresses
    history = await s.client.get("/accounts/me/history", headers=customer.headers)
    assert history.status_code == 200, history.text
    changes = [c["change"] for c in history.json()]
    assert changes[-3:] == ["email_change_requested", "email_changed", "contract_info_changed"]
    assert new_email not in history.text
    assert customer.email not in history.text


async def test_wrong_and_forged_tokens_are_refused_and_change_nothing(
    identity_system: Any,
) -> None:
    s = identity_system
    alice = await s.customer()
    bob = await s.customer()
    alice_new, bob_new = fresh_email("alice"), fresh_email("bob")
    await request_change(s, alice, alice_new)
    await request_change(s, bob, bob_new)
    alice_token = await link_token(s, alice_new)
    bob_token = await link_token(s, bob_new)
    a_account, a_change, a_secret = alice_token.split(".")
    b_account, b_change, b_secret = bob_token.split(".")
    assert a_account == uuid.UUID(alice.account_id).hex

    forged = [
        "",
        "garbage",
        "a.b.c",
        f"{a_account}.{a_change}.{a_secret}x",
        f"{a_account}.{a_change}",
        f"{b_account}.{a_change}.{a_secret}",  # Alice's secret on Bob's account
        f"{a_account}.{b_change}.{b_secret}",
        f"{uuid.uuid4().hex}.{a_change}.{a_secret}",
        f"{a_account}.{a_change}.{a_secret}.{a_secret}",
    ]
    for token in forged:
        response = await confirm(s, token)
        if token == "":
            assert response.status_code == 422, response.text
            continue
        assert_refused(response, 422, "invalid_email_change_token")
        assert [e["field"] for e in response.json()["errors"]] == ["token"]

    for customer, pending in ((alice, alice_new), (bob, bob_new)):
        me = (await s.me(customer.access_token)).json()
        assert me["contractor"]["email"] == customer.email
        assert me["pending_email"] == pending
    await asyncio.sleep(0.3)
    assert s.events(INFO) == []
    # each real token still works for its own account only
    assert (await confirm(s, bob_token)).status_code == 204
    assert (await s.me(bob.access_token)).json()["contractor"]["email"] == bob_new
    assert (await s.me(alice.access_token)).json()["contractor"]["email"] == alice.email


async def test_an_expired_link_is_refused_and_a_new_request_works(
    identity_system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = identity_system
    customer = await s.customer()
    new_email = fresh_email("late")
    with monkeypatch.context() as patch:
        patch.setattr(pbx_identity.app_account, "EMAIL_CHANGE_TTL", timedelta(minutes=-1))
        await request_change(s, customer, new_email)
        token = await link_token(s, new_email)

    assert_refused(await confirm(s, token), 422, "email_change_token_expired")
    me = (await s.me(customer.access_token)).json()
    assert me["contractor"]["email"] == customer.email
    assert me["pending_email"] is None  # an expired request is no longer shown

    await request_change(s, customer, new_email)
    assert (await confirm(s, await link_token(s, new_email, known=(token,)))).status_code == 204
    assert (await s.me(customer.access_token)).json()["contractor"]["email"] == new_email


async def test_a_second_request_replaces_the_first_ones_link(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    first, second = fresh_email("first"), fresh_email("second")
    await request_change(s, customer, first)
    first_token = await link_token(s, first)
    response = await request_change(s, customer, second)
    assert response.json()["pending_email"] == second
    second_token = await link_token(s, second)
    # the old address heard of both requests
    await s.wait_for_mail(customer.email, REQUESTED_SUBJECT, 2)

    assert_refused(await confirm(s, first_token), 422, "invalid_email_change_token")
    assert (await s.me(customer.access_token)).json()["contractor"]["email"] == customer.email
    assert (await confirm(s, second_token)).status_code == 204
    assert (await s.me(customer.access_token)).json()["contractor"]["email"] == second
    # the first address was never the account's: anyone may register it
    assert (await s.client.post("/accounts", json=s.registration(first))).status_code == 201


async def test_an_address_taken_before_the_confirmation_is_refused_and_nothing_changes(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    wanted = fresh_email("wanted")
    await request_change(s, customer, wanted)
    token = await link_token(s, wanted)
    other = await s.customer(s.registration(wanted))  # the address was still free

    assert_refused(await confirm(s, token), 409, "email_taken")
    assert (await s.me(customer.access_token)).json()["contractor"]["email"] == customer.email
    assert (await s.me(other.access_token)).json()["contractor"]["email"] == wanted
    await asyncio.sleep(0.3)
    assert s.events(INFO) == []
    assert s.mails(customer.email, COMPLETED_SUBJECT) == []
    # the customer's own address is still theirs
    clash = await s.client.post("/accounts", json=s.registration(customer.email))
    assert_refused(clash, 409, "email_taken")


async def test_reminder_mails_go_to_the_old_address_until_the_new_one_is_confirmed(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    new_email = fresh_email("reminded")
    await request_change(s, customer, new_email)
    token = await link_token(s, new_email)

    before = await s.reminder_token(customer.login_id, customer.email)
    assert before
    assert s.mails(new_email, RESET_SUBJECT) == []

    assert (await confirm(s, token)).status_code == 204
    after = await s.reminder_token(customer.login_id, new_email)
    assert after != before
    await asyncio.sleep(0.3)
    assert len(s.mails(customer.email, RESET_SUBJECT)) == 1


async def test_the_owner_or_a_password_reset_drops_a_pending_change(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    cancelled_email, stolen_email = fresh_email("cancelled"), fresh_email("stolen")

    await request_change(s, customer, cancelled_email)
    token = await link_token(s, cancelled_email)
    dropped = await s.client.delete("/accounts/me/pending-email", headers=customer.headers)
    assert dropped.status_code == 204, dropped.text
    assert (await s.me(customer.access_token)).json()["pending_email"] is None
    assert_refused(await confirm(s, token), 422, "invalid_email_change_token")
    # nothing pending: the same call is a no-op
    again = await s.client.delete("/accounts/me/pending-email", headers=customer.headers)
    assert again.status_code == 204, again.text
    assert (await s.client.delete("/accounts/me/pending-email")).status_code == 401

    # a thief's request with a stolen session: the owner resets the password from the notice
    await request_change(s, customer, stolen_email)
    stolen_token = await link_token(s, stolen_email)
    reset_token = await s.reminder_token(customer.login_id, customer.email)
    assert (await s.reset_password(reset_token, s.NEW_PASSWORD)).status_code == 204
    assert_refused(await confirm(s, stolen_token), 422, "invalid_email_change_token")
    fresh = await s.tokens(customer.login_id, s.NEW_PASSWORD)
    me = (await s.me(fresh["access_token"])).json()
    assert me["contractor"]["email"] == customer.email
    assert me["pending_email"] is None
    await asyncio.sleep(0.3)
    assert s.events(INFO) == []
