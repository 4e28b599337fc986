"""Login and password reminder end to end: an unknown ID and a wrong password cannot be
told apart (status, body, time), and failed logins are throttled per login ID and per
client address while the real owner can still get in.

The client address is set with ``X-Forwarded-For`` (the test transport's peer,
127.0.0.1, is a trusted proxy). Runs on the in-process bus and on real PostgreSQL +
RabbitMQ unless a test says otherwise; ``identity_system`` comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest


def unknown_login_id(*known: str) -> str:
    for n in range(10_000_000, 100_000_000, 7_654_321):
        candidate = f"PBX{n:08d}"
        if candidate not in known:
            return candidate
    raise AssertionError("unreachable")


async def test_wrong_password_and_unknown_id_give_the_same_answer(identity_system: Any) -> None:
    s = identity_system
    account = await s.register()
    unknown = unknown_login_id(account["login_id"])

    wrong = await s.login(account["login_id"], "Wr0ng#Passw0rd", "198.51.100.1")
    missing = await s.login(unknown, "Wr0ng#Passw0rd", "198.51.100.2")
    assert wrong.status_code == missing.status_code == 401
    assert wrong.json() == missing.json()
    assert wrong.json()["code"] == "invalid_credentials"
    assert wrong.headers["content-type"] == missing.headers["content-type"]
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers.get("www-authenticate") == missing.headers.get("www-authenticate")
    # the same login ID in another case or with blanks is the same account
    also_wrong = await s.login(f" {account['login_id'].lower()} ", "Wr0ng#Pass", "198.51.100.3")
    assert also_wrong.status_code == 401
    assert also_wrong.json() == wrong.json()
    # the real password works (so the failures above were about the password)
    assert (await s.login(account["login_id"], s.PASSWORD, "198.51.100.4")).status_code == 200


async def test_reminder_for_an_existing_and_an_unknown_id_gives_the_same_answer(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    unknown = unknown_login_id(account["login_id"])
    known = await s.client.post("/auth/password-reminder", json={"login_id": account["login_id"]})
    missing = await s.client.post("/auth/password-reminder", json={"login_id": unknown})
    assert known.status_code == missing.status_code == 202
    assert known.json() == missing.json()
    assert known.headers["content-type"] == missing.headers["content-type"]


@pytest.mark.slow
@pytest.mark.parametrize("stack_kind", ["memory"])
@pytest.mark.parametrize("password_hashing", ["production"])
async def test_login_and_reminder_take_the_same_time_for_existing_and_unknown_ids(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    existing = account["login_id"]
    unknown = unknown_login_id(existing)
    tries = 50

    async def timed(coro: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        response = await coro
        return time.perf_counter() - started, response

    # warm up both paths (imports, first store reads), not measured
    await s.login(existing, "Wr0ng#Passw0rd", "10.99.0.1")
    await s.login(unknown, "Wr0ng#Passw0rd", "10.99.0.2")

    login_times: dict[str, list[float]] = {"existing": [], "unknown": []}
    for i in range(tries):
        for kind, login_id in (("existing", existing), ("unknown", unknown)):
            address = f"10.{1 if kind == 'existing' else 2}.{i // 200}.{i % 200 + 1}"
            elapsed, response = await timed(s.login(login_id, "Wr0ng#Passw0rd", address))
            assert response.status_code == 401, response.text  # never throttled here
            login_times[kind].append(elapsed)

    reminder_times: dict[str, list[float]] = {"existing": [], "unknown": []}
    for _ in range(tries):
        for kind, login_id in (("existing", existing), ("unknown", unknown)):
            elapsed, response = await timed(
                s.client.post("/auth/password-reminder", json={"login_id": login_id})
            )
            assert response.status_code == 202
            reminder_times[kind].append(elapsed)

    for what, times in (("login", login_times), ("reminder", reminder_times)):
        existing_median = statistics.median(times["existing"])
        unknown_median = statistics.median(times["unknown"])
        slower, faster = max(existing_median, unknown_median), min(existing_median, unknown_median)
        assert slower < faster * 1.2, (
            f"{what}: median {existing_median * 1000:.1f} ms for an existing ID, "
            f"{unknown_median * 1000:.1f} ms for an unknown one"
        )


async def test_150_wrong_passwords_from_one_address_are_throttled_but_the_owner_gets_in(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    attacker = "203.0.113.66"

    statuses: list[int] = []
    throttled: list[Any] = []
    for i in range(150):
        response = await s.login(account["login_id"], f"Guess#{i:04d}x", attacker)
        statuses.append(response.status_code)
        if response.status_code == 429:
            throttled.append(response)
        else:
            assert response.status_code == 401, response.text
    # the first few tries are evaluated, then the address is slowed down for this ID
    assert statuses[:5] == [401] * 5
    assert statuses[-100:] == [429] * 100
    assert statuses.count(401) <= 10, statuses
    for response in throttled:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "too_many_attempts"
        assert int(response.headers["Retry-After"]) >= 1
    # a throttled try is not evaluated: even the right password is refused from there
    blocked = await s.login(account["login_id"], s.PASSWORD, attacker)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"

    # the real owner, from another address, logs in at once
    owner = await s.login(account["login_id"], s.PASSWORD, "192.0.2.200")
    assert owner.status_code == 200, owner.text
    tokens = owner.json()
    assert tokens["access_token"]
    assert tokens["refresh_token"]
    assert (await s.me(tokens["access_token"])).status_code == 200


async def test_wrong_passwords_from_many_addresses_hit_the_per_account_rule(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()

    statuses: list[int] = []
    for i in range(110):
        address = f"198.18.{i // 200}.{i % 200 + 1}"  # a different address every try
        response = await s.login(account["login_id"], f"Guess#{i:04d}x", address)
        statuses.append(response.status_code)
        assert response.status_code in (401, 429), response.text
    # 100 consecutive failures of one account are evaluated, no more without a delay
    assert statuses[:100] == [401] * 100
    assert statuses[100] == 429
    assert statuses[100:].count(429) >= 8, statuses[100:]

    # the owner, from yet another address, is told to wait briefly, and then gets in
    first = await s.login(account["login_id"], s.PASSWORD, "192.0.2.201")
    assert first.status_code == 429, first.text
    assert first.json()["code"] == "too_many_attempts"
    retry_after = int(first.headers["Retry-After"])
    assert 1 <= retry_after <= 30
    await asyncio.sleep(retry_after)
    second = await s.login(account["login_id"], s.PASSWORD, "192.0.2.201")
    assert second.status_code == 200, second.text
    assert second.json()["access_token"]

    # a success clears the account's counter: a later wrong try is evaluated again (401)
    again = await s.login(account["login_id"], "Guess#again", "198.18.9.9")
    assert again.status_code == 401, again.text


async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(
    identity_system: Any,
) -> None:
    """Only a trusted proxy may name the client: anyone else's X-Forwarded-For is ignored,
    so rotating it does not escape the per-address throttle."""
    import httpx

    s = identity_system
    account = await s.register()
    transport = httpx.ASGITransport(app=s.runtime.api, client=("203.0.113.99", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as direct:
        statuses = []
        for i in range(6):
            response = await direct.post(
                "/auth/token",
                json={"login_id": account["login_id"], "password": f"Guess#{i}x"},
                headers={"X-Forwarded-For": f"10.77.0.{i + 1}"},
            )
            statuses.append(response.status_code)
    # the 6th try, from a "new" forwarded address, is still the same peer's: throttled (the
    # wait after the 5th failure is 1 s, so only the very next try is sure to meet it)
    assert statuses == [401] * 5 + [429]


@pytest.mark.parametrize("login_id", ["PBX\x0012345678", "PBX1234\n5678", "\x7f"])
async def test_a_login_id_with_control_characters_is_refused_as_input_not_a_server_error(
    identity_system: Any, login_id: str
) -> None:
    s = identity_system
    for path, body in (
        ("/auth/token", {"login_id": login_id, "password": "Sample#Passw0rd"}),
        ("/auth/password-reminder", {"login_id": login_id}),
    ):
        reply = await s.client.post(path, json=body)
        assert reply.status_code == 422, (path, reply.text)
        assert reply.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in reply.json()["errors"]] == ["login_id"], path
