"""Password reminder and reset end to end (SPEC §2.4): the mail's one-time token sets a
new password once, expires, cannot touch another account, ends every session, and a
notice tells the owner; a reminder for an unknown ID sends nothing.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

import pbx_identity.app_auth
from pbx_identity.domain.reminder import PasswordReminder
from pbx_identity.mails import CHANGED_SUBJECT, REGISTRATION_SUBJECT, RESET_SUBJECT


def assert_invalid_reset_token(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_reset_token", problem
    assert [e["field"] for e in problem["errors"]] == ["token"]


async def test_a_reset_token_sets_a_new_password_once_and_ends_every_session(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    token = await s.reminder_token(customer.login_id, customer.email)
    [mail] = s.mails(customer.email, RESET_SUBJECT)
    body = mail.get_content()
    assert s.infra.settings.password_reset_url in body
    assert customer.password not in body

    # a weak new password is refused by the policy, and does not spend the token
    weak = await s.reset_password(token, "password")
    assert weak.status_code == 422, weak.text
    assert [(e["field"], e["code"]) for e in weak.json()["errors"]] == [
        ("password", "password_policy")
    ]
    mismatch = await s.client.post(
        "/auth/password-reset",
        json={
            "token": token,
            "password": s.NEW_PASSWORD,
            "password_confirmation": s.NEW_PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 422, mismatch.text
    assert mismatch.json()["errors"][0]["code"] == "password_mismatch"
    assert (await s.login(customer.login_id, customer.password)).status_code == 200

    reset = await s.reset_password(token, s.NEW_PASSWORD)
    assert reset.status_code == 204, reset.text
    assert reset.content == b""

    # works once
    assert_invalid_reset_token(await s.reset_password(token, "An0ther#Passw0rd"))

    # every session ended: the old refresh token and the old access token are refused
    refresh = await s.client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert refresh.status_code == 401, refresh.text
    assert refresh.json()["code"] == "invalid_refresh_token"
    old_access = await s.me(customer.access_token)
    assert old_access.status_code == 401
    assert old_access.json()["code"] == "invalid_token"

    # the old password is gone, the new one logs in (and not the one tried with a used token)
    assert (await s.login(customer.login_id, customer.password, "192.0.2.31")).status_code == 401
    assert (await s.login(customer.login_id, "An0ther#Passw0rd", "192.0.2.32")).status_code == 401
    fresh = await s.tokens(customer.login_id, s.NEW_PASSWORD)
    assert (await s.me(fresh["access_token"])).status_code == 200

    # the owner is told
    [notice] = await s.wait_for_mail(customer.email, CHANGED_SUBJECT)
    assert s.NEW_PASSWORD not in notice.get_content()
    await asyncio.sleep(0.3)
    assert len(s.mails(customer.email, CHANGED_SUBJECT)) == 1


async def test_an_expired_reset_token_is_refused(
    identity_system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = identity_system
    customer = await s.customer()
    with monkeypatch.context() as patch:
        patch.setattr(pbx_identity.app_auth, "RESET_TTL", timedelta(minutes=-1))
        token = await s.reminder_token(customer.login_id, customer.email)

    assert_invalid_reset_token(await s.reset_password(token, s.NEW_PASSWORD))
    # nothing changed: the old password and the old session still work
    assert (await s.login(customer.login_id, customer.password)).status_code == 200
    assert (await s.me(customer.access_token)).status_code == 200
    refresh = await s.client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert refresh.status_code == 200, refresh.text

    # a fresh reminder (with the normal lifetime) works
    token = await s.reminder_token(customer.login_id, customer.email)
    assert (await s.reset_password(token, s.NEW_PASSWORD)).status_code == 204


async def test_one_accounts_token_cannot_reset_another_account(identity_system: Any) -> None:
    s = identity_system
    alice = await s.customer()
    bob = await s.customer()
    alice_token = await s.reminder_token(alice.login_id, alice.email)
    bob_token = await s.reminder_token(bob.login_id, bob.email)
    assert alice_token != bob_token
    # each mail went only to its owner
    assert len(s.mails(alice.email, RESET_SUBJECT)) == 1
    assert len(s.mails(bob.email, RESET_SUBJECT)) == 1

    # splicing Alice's secret onto Bob's reminder (or the other way round) is refused
    a_reminder, a_reset, a_secret = alice_token.split(".")
    b_reminder, b_reset, b_secret = bob_token.split(".")
    assert b_reminder == PasswordReminder.create_id(bob.login_id).hex
    forged = [
        f"{b_reminder}.{a_reset}.{a_secret}",
        f"{b_reminder}.{b_reset}.{a_secret}",
        f"{a_reminder}.{b_reset}.{b_secret}",
        f"{a_reminder}.{a_reset}.{b_secret}",
    ]
    for token in forged:
        assert_invalid_reset_token(await s.reset_password(token, "F0rged#Passw0rd"))
    assert (await s.login(bob.login_id, "F0rged#Passw0rd", "192.0.2.41")).status_code == 401
    assert (await s.login(alice.login_id, "F0rged#Passw0rd", "192.0.2.42")).status_code == 401

    # Alice's token changes Alice's password only
    assert (await s.reset_password(alice_token, s.NEW_PASSWORD)).status_code == 204
    assert (await s.login(alice.login_id, s.NEW_PASSWORD)).status_code == 200
    assert (await s.login(bob.login_id, s.NEW_PASSWORD, "192.0.2.43")).status_code == 401
    assert (await s.login(bob.login_id, bob.password)).status_code == 200
    assert (await s.me(bob.access_token)).status_code == 200
    bob_refresh = await s.client.post("/auth/refresh", json={"refresh_token": bob.refresh_token})
    assert bob_refresh.status_code == 200, bob_refresh.text
    # and Bob's own token is still good for Bob
    assert (await s.reset_password(bob_token, "B0bs#NewPassw0rd")).status_code == 204
    assert (await s.login(bob.login_id, "B0bs#NewPassw0rd")).status_code == 200
    assert (await s.login(alice.login_id, s.NEW_PASSWORD)).status_code == 200


async def test_garbage_reset_tokens_are_refused(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    token = await s.reminder_token(customer.login_id, customer.email)
    reminder, reset_id, secret = token.split(".")
    for bad in (
        "nonsense",
        "a.b.c",
        f"{reminder}.{reset_id}",
        f"{reminder}.{reset_id}.{secret}x",
        f"{reminder}.{uuid.uuid4().hex}.{secret}",
        f"{uuid.uuid4().hex}.{reset_id}.{secret}",
    ):
        assert_invalid_reset_token(await s.reset_password(bad, s.NEW_PASSWORD))
    # none of that spent the real token
    assert (await s.reset_password(token, s.NEW_PASSWORD)).status_code == 204


async def test_a_reminder_for_an_unknown_id_sends_no_mail(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    unknown = "PBX00000001" if customer.login_id != "PBX00000001" else "PBX00000002"
    answer = await s.client.post("/auth/password-reminder", json={"login_id": unknown})
    assert answer.status_code == 202
    # a reminder for a real account afterwards: the mailer handles events in order, so
    # once its mail is there the unknown ID's reminder has been dealt with
    await s.reminder_token(customer.login_id, customer.email)
    await asyncio.sleep(0.3)
    resets = s.mails(subject=RESET_SUBJECT)
    assert [m["To"] for m in resets] == [customer.email]
    assert {m["Subject"] for m in s.mails()} == {RESET_SUBJECT, REGISTRATION_SUBJECT}
