"""Ownership on the account page: a customer reaches only their own account and circles
(another account's circle is 404), fields that are not theirs to change are ignored, and
a staff login is not a customer (403).

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt


async def add_circle(s: Any, customer: Any, department: str) -> dict[str, Any]:
    response = await s.client.post(
        "/accounts/me/circles",
        json={"department_name": department, "staff_name": "担当 次郎"},
        headers=customer.headers,
    )
    assert response.status_code == 201, response.text
    circle: dict[str, Any] = response.json()
    return circle


async def circles_of(s: Any, customer: Any) -> list[dict[str, Any]]:
    response = await s.client.get("/accounts/me/circles", headers=customer.headers)
    assert response.status_code == 200, response.text
    circles: list[dict[str, Any]] = response.json()
    return circles


async def test_another_accounts_circle_is_404_and_stays_active(identity_system: Any) -> None:
    s = identity_system
    alice = await s.customer()
    mallory = await s.customer()
    circle = await add_circle(s, alice, "営業部")

    attempt = await s.client.delete(
        f"/accounts/me/circles/{circle['circle_id']}", headers=mallory.headers
    )
    assert attempt.status_code == 404, attempt.text
    assert attempt.headers["content-type"] == "application/problem+json"
    assert circle["department_name"] not in attempt.text

    [still] = await circles_of(s, alice)
    assert still["circle_id"] == circle["circle_id"]
    assert still["status"] == "active"
    # an id nobody has is the same 404
    unknown = await s.client.delete(f"/accounts/me/circles/{uuid.uuid4()}", headers=alice.headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == attempt.json()["code"]
    # the owner can cancel it
    own = await s.client.delete(
        f"/accounts/me/circles/{circle['circle_id']}", headers=alice.headers
    )
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "cancelled"


async def test_lists_show_only_the_callers_rows(identity_system: Any) -> None:
    s = identity_system
    alice = await s.customer()
    bob = await s.customer()
    alice_ids = {(await add_circle(s, alice, f"アリス部{i}"))["circle_id"] for i in range(2)}
    bob_ids = {(await add_circle(s, bob, "ボブ部"))["circle_id"]}

    assert {c["circle_id"] for c in await circles_of(s, alice)} == alice_ids
    assert {c["circle_id"] for c in await circles_of(s, bob)} == bob_ids
    carol = await s.customer()
    assert await circles_of(s, carol) == []

    # and the account page is the caller's own
    for customer in (alice, bob):
        me = await s.me(customer.access_token)
        assert me.status_code == 200
        assert me.json()["account_id"] == customer.account_id
        assert me.json()["login_id"] == customer.login_id


async def test_fields_that_are_not_the_callers_to_change_are_ignored(
    identity_system: Any,
) -> None:
    s = identity_system
    alice = await s.customer()
    bob = await s.customer()
    before = (await s.me(alice.access_token)).json()
    bob_before = (await s.me(bob.access_token)).json()

    patch = await s.client.patch(
        "/accounts/me",
        json={
            "account_id": bob.account_id,
            "roles": ["admin"],
            "status": "suspended",
            "contractor_type": "corporation",
            "login_id": bob.login_id,
            "token_version": 99,
            "contractor": {"city_kana": "コウトウ"},
        },
        headers=alice.headers,
    )
    assert patch.status_code == 200, patch.text
    after = (await s.me(alice.access_token)).json()
    assert after["contractor"]["city_kana"] == "コウトウ"  # the real change applied
    for field in ("account_id", "login_id", "status", "contractor_type", "representative"):
        assert after[field] == before[field], field
    assert after["status"] == "active"
    assert after["contractor_type"] == "individual"
    assert "roles" not in after or after["roles"] == before.get("roles")

    # the token still carries the customer role only, and new ones too
    assert (await s.me(alice.access_token)).status_code == 200  # token version unchanged
    fresh = await s.tokens(alice.login_id, alice.password)
    assert jwt.decode(fresh["access_token"], options={"verify_signature": False})["roles"] == [
        "customer"
    ]
    # Bob's account did not change
    assert (await s.me(bob.access_token)).json() == bob_before


async def test_a_staff_login_is_not_a_customer(identity_system: Any) -> None:
    s = identity_system
    staff = await s.staff_token("reviewer")
    claims = jwt.decode(staff, options={"verify_signature": False})
    assert claims["roles"] == ["reviewer"]
    headers = {"Authorization": f"Bearer {staff}"}

    for method, path, body in (
        ("GET", "/accounts/me", None),
        ("PATCH", "/accounts/me", {"contractor": {"city_kana": "コウトウ"}}),
        ("GET", "/accounts/me/circles", None),
        ("POST", "/accounts/me/circles", {"department_name": "審査部", "staff_name": "審査"}),
        ("DELETE", f"/accounts/me/circles/{uuid.uuid4()}", None),
    ):
        response = await s.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "forbidden"


async def test_the_account_page_needs_a_login(identity_system: Any) -> None:
    s = identity_system
    for method, path in (
        ("GET", "/accounts/me"),
        ("PATCH", "/accounts/me"),
        ("GET", "/accounts/me/circles"),
        ("POST", "/accounts/me/circles"),
        ("DELETE", f"/accounts/me/circles/{uuid.uuid4()}"),
    ):
        response = await s.client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
