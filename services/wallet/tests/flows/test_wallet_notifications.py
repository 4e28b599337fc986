"""The payment provider's signed notifications end to end on both stacks: the signature
and its age, replays and duplicates, unknown charges, wrong amounts, cancellations,
bad bodies; and the methods confirmed by the provider (bank transfer, net bank)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from pbx_events.envelope import parse
from pbx_wallet.payments import ProviderStatus, sign

PROBLEM = "application/problem+json"


def notice(
    charge_id: uuid.UUID | str,
    amount: int,
    status: str = "paid",
    notification_id: str | None = None,
) -> bytes:
    """A notification body as the provider sends it."""
    return json.dumps(
        {
            "notification_id": notification_id or f"ntf_{uuid.uuid4().hex}",
            "charge_id": str(charge_id),
            "status": status,
            "amount": amount,
            "paid_at": "2025-04-01T10:00:00+09:00",
        },
        separators=(",", ":"),
    ).encode()


async def pending_charge(
    wallets: Any, amount: int = 3_000, method: str = "convenience_store"
) -> tuple[uuid.UUID, uuid.UUID]:
    """A registered account with one unpaid charge: (account, charge)."""
    account = await wallets.register()
    reply = await wallets.top_up(account, amount, method)
    assert reply.status_code == 201, reply.text
    charge = reply.json()
    assert charge["status"] == "pending"
    return account, uuid.UUID(charge["charge_id"])


async def post_raw(wallets: Any, body: bytes, headers: dict[str, Any]) -> Any:
    return await wallets.client.post(
        "/payment-notifications",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def assert_problem(reply: Any, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    problem = reply.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["detail"]


def outcome(reply: Any) -> tuple[int, str | None]:
    """A reply's status and problem code (a problem is always problem+json)."""
    if reply.status_code < 400:
        return reply.status_code, None
    assert reply.headers["content-type"].startswith(PROBLEM), reply.text
    code: str = reply.json()["code"]
    return reply.status_code, code


async def money(wallets: Any, account: uuid.UUID) -> tuple[int, int]:
    data = await wallets.balance(account)
    return data["balance"], data["pending"]


async def top_up_status(wallets: Any, account: uuid.UUID, charge: uuid.UUID) -> str:
    reply = await wallets.client.get(f"/wallets/me/top-ups/{charge}", headers=wallets.auth(account))
    assert reply.status_code == 200, reply.text
    status: str = reply.json()["status"]
    return status


# -- the signature ------------------------------------------------------------


async def test_a_body_changed_after_signing_is_refused_and_credits_nothing(wallets: Any) -> None:
    account, charge = await pending_charge(wallets)
    signed = notice(charge, 3_000, notification_id="ntf_tampered")
    header = sign(wallets.secret, signed, int(wallets.clock().timestamp()))
    tampered = signed.replace(b'"amount":3000', b'"amount":30000')
    assert tampered != signed
    reply = await post_raw(wallets, tampered, {"Pbx-Signature": header})
    assert_problem(reply, 401, "invalid_signature")
    # a byte of whitespace is a different body too
    reply = await post_raw(wallets, signed + b" ", {"Pbx-Signature": header})
    assert_problem(reply, 401, "invalid_signature")
    assert await money(wallets, account) == (0, 3_000)
    assert await top_up_status(wallets, account, charge) == "pending"


async def test_a_changed_signature_or_a_wrong_secret_is_refused(wallets: Any) -> None:
    account, charge = await pending_charge(wallets)
    body = notice(charge, 3_000)
    now = int(wallets.clock().timestamp())
    good = sign(wallets.secret, body, now)
    mac = good.split("v1=")[1]
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    for header in (
        f"t={now},v1={flipped}",  # one hex digit changed
        f"t={now},v1={mac.upper()}",  # not the hex the provider sends
        f"t={now + 1},v1={mac}",  # the timestamp is signed too
        sign(b"not-the-shared-secret", body, now),  # a wrong secret
        sign(wallets.secret + b"x", body, now),
    ):
        reply = await wallets.notify(body, signature=header)
        assert_problem(reply, 401, "invalid_signature")
    assert await money(wallets, account) == (0, 3_000)


MALFORMED_HEADERS: list[str | None] = [
    None,  # no header at all
    "",
    "garbage",
    "t=,v1=",
    "v1=0123abcd",  # no timestamp
    "t=1700000000",  # no signature
    "t=abc,v1=0123abcd",
    "t=-1700000000,v1=0123abcd",
    "t=1700000000000000,v1=0123abcd",  # too many digits
    "t=1.5,v1=0123abcd",
    "t=1700000000;v1=0123abcd",
]


async def test_a_missing_or_malformed_signature_header_is_refused(wallets: Any) -> None:
    account, charge = await pending_charge(wallets)
    seen = []
    for header in MALFORMED_HEADERS:
        headers = {} if header is None else {"Pbx-Signature": header}
        reply = await post_raw(wallets, notice(charge, 3_000), headers)
        seen.append((header, outcome(reply)))
    assert seen == [(h, (401, "invalid_signature")) for h in MALFORMED_HEADERS]
    assert await money(wallets, account) == (0, 3_000)


#: latin-1 header bytes any client can send
NON_ASCII_HEADERS = [
    # digits to str.isdigit(), not to int()
    "t=\u00b2,v1=0123abcd".encode("latin-1"),
    "t=\u00b9\u00b3,v1=0123abcd".encode("latin-1"),
    # a non-ASCII "hex" signature
    "t=1700000000,v1=\u00e9\u00e9".encode("latin-1"),
]


async def test_a_signature_header_with_non_ascii_bytes_is_refused_not_a_server_error(
    wallets: Any,
) -> None:
    account, charge = await pending_charge(wallets)
    seen = []
    for header in NON_ASCII_HEADERS:
        reply = await post_raw(wallets, notice(charge, 3_000), {"Pbx-Signature": header})
        seen.append((header, outcome(reply)))
    assert seen == [(h, (401, "invalid_signature")) for h in NON_ASCII_HEADERS]
    assert await money(wallets, account) == (0, 3_000)


async def test_one_matching_signature_among_several_is_accepted_while_rotating(
    wallets: Any,
) -> None:
    account, charge = await pending_charge(wallets)
    body = notice(charge, 3_000)
    now = int(wallets.clock().timestamp())
    old = sign(b"the-retired-secret", body, now).split("v1=")[1]
    good = sign(wallets.secret, body, now).split("v1=")[1]
    reply = await wallets.notify(body, signature=f"t={now},v1={old},v1={good}")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"result": "credited"}
    assert await money(wallets, account) == (3_000, 0)


# -- the timestamp ------------------------------------------------------------


async def test_a_notification_signed_more_than_five_minutes_ago_or_ahead_is_stale(
    wallets: Any,
) -> None:
    account, charge = await pending_charge(wallets)
    now = wallets.clock()
    for at in (
        now - timedelta(minutes=5, seconds=2),
        now - timedelta(hours=3),
        now + timedelta(minutes=5, seconds=2),
        now + timedelta(days=1),
    ):
        reply = await wallets.notify(notice(charge, 3_000), at=at)
        assert_problem(reply, 401, "stale_notification")
    assert await money(wallets, account) == (0, 3_000)
    # inside the tolerance either way it is taken
    reply = await wallets.notify(notice(charge, 3_000), at=now - timedelta(minutes=4, seconds=50))
    assert reply.json() == {"result": "credited"}
    assert await money(wallets, account) == (3_000, 0)


async def test_a_stale_timestamp_with_a_bad_signature_is_an_invalid_signature(
    wallets: Any,
) -> None:
    _, charge = await pending_charge(wallets)
    old = int((wallets.clock() - timedelta(hours=1)).timestamp())
    reply = await wallets.notify(notice(charge, 3_000), signature=f"t={old},v1=00ff")
    assert_problem(reply, 401, "invalid_signature")


# -- replays and duplicates ---------------------------------------------------------


async def test_a_replayed_notification_credits_nothing_more(wallets: Any) -> None:
    account, charge = await pending_charge(wallets, 4_000)
    body = notice(charge, 4_000)
    header = sign(wallets.secret, body, int(wallets.clock().timestamp()))
    first = await wallets.notify(body, signature=header)
    assert first.json() == {"result": "credited"}
    wallets.clock.advance(timedelta(minutes=4))  # still inside the tolerance
    again = await wallets.notify(body, signature=header)
    assert again.status_code == 200, again.text
    assert again.json() == {"result": "duplicate"}
    wallets.clock.advance(timedelta(minutes=2))  # now outside it
    late = await wallets.notify(body, signature=header)
    assert_problem(late, 401, "stale_notification")
    # the provider telling the same payment under a new notification id
    other = await wallets.notify(notice(charge, 4_000))
    assert other.json() == {"result": "already_confirmed"}
    assert await money(wallets, account) == (4_000, 0)


async def test_a_notification_delivered_five_times_credits_once_and_is_published_once(
    wallets: Any,
) -> None:
    account, charge = await pending_charge(wallets, 7_000, "bank_transfer")
    body = notice(charge, 7_000, notification_id="ntf_five_times")
    results = []
    for _ in range(5):
        reply = await wallets.notify(body)  # freshly signed each time, as a retrying provider
        assert reply.status_code == 200, reply.text
        results.append(reply.json()["result"])
    assert results == ["credited"] + ["duplicate"] * 4
    assert await money(wallets, account) == (7_000, 0)
    await wallets.wait_for(lambda: wallets.of_type("WalletCharged"))
    await wallets.quiesce()
    charged = wallets.of_type("WalletCharged")
    assert len(charged) == 1
    event = parse(charged[0])
    assert (event.account_id, event.charge_id, event.amount, event.balance_after) == (
        account,
        charge,
        7_000,
        7_000,
    )
    assert event.method == "bank_transfer"
    statement = (
        await wallets.client.get("/wallets/me/statement", headers=wallets.auth(account))
    ).json()
    assert [i["kind"] for i in statement["items"]] == ["charge_confirmed"]


# -- what the notification names ----------------------------------------------


async def test_a_validly_signed_notification_for_an_unknown_charge_is_404(wallets: Any) -> None:
    account, _ = await pending_charge(wallets)
    reply = await wallets.notify(notice(uuid.uuid4(), 3_000))
    assert_problem(reply, 404, "unknown_charge")
    assert await money(wallets, account) == (0, 3_000)


async def test_a_wrong_amount_is_recorded_for_reconciliation_and_not_credited(
    wallets: Any,
) -> None:
    account, charge = await pending_charge(wallets, 5_000)
    reply = await wallets.notify(notice(charge, 4_999, notification_id="ntf_short"))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"result": "recorded_for_reconciliation"}
    assert (await money(wallets, account))[0] == 0
    assert await top_up_status(wallets, account, charge) != "confirmed"
    await wallets.quiesce()
    for role in ("auditor", "admin"):
        found = await wallets.client.get("/reconciliations", headers=wallets.staff(role))
        assert found.status_code == 200, found.text
        rows = found.json()
        assert len(rows) == 1
        row = rows[0]
        assert (row["account_id"], row["charge_id"], row["notification_id"]) == (
            str(account),
            str(charge),
            "ntf_short",
        )
        assert (row["amount"], row["reason"]) == (4_999, "amount_mismatch")
    # the same notification again records nothing more
    again = await wallets.notify(notice(charge, 4_999, notification_id="ntf_short"))
    assert again.json() == {"result": "duplicate"}
    await wallets.quiesce()
    found = await wallets.client.get("/reconciliations", headers=wallets.staff())
    assert len(found.json()) == 1
    # a customer may not see the operator's list
    refused = await wallets.client.get("/reconciliations", headers=wallets.auth(account))
    assert_problem(refused, 403, "forbidden")


async def test_a_wrong_amount_is_still_not_credited_when_the_charge_reaches_its_deadline(
    wallets: Any,
) -> None:
    """The provider was paid 4,999 yen for a 5,000 yen slip: at the deadline the wallet
    asks the provider and must not credit the 5,000 yen that were never paid."""
    account, charge = await pending_charge(wallets, 5_000)
    paid = wallets.sandbox.pay(charge, wallets.clock(), 4_999)
    reply = await wallets.notify(paid.body, signature=paid.signature)
    assert reply.json() == {"result": "recorded_for_reconciliation"}
    await wallets.quiesce()
    wallets.clock.advance(timedelta(days=3, seconds=1))
    await wallets.runtime.api.state.expiry.run_once()
    assert (await money(wallets, account))[0] == 0


async def test_a_short_payment_the_provider_confirms_at_the_deadline_is_settled_once(
    wallets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real provider asked at the deadline reports what was paid (4,999 yen for a
    5,000 yen slip): the wallet records it once, credits nothing, and does not ask
    again and again at every tick of the timer."""
    account, charge = await pending_charge(wallets, 5_000)
    reply = await wallets.notify(notice(charge, 4_999, notification_id="ntf_short"))
    assert reply.json() == {"result": "recorded_for_reconciliation"}
    real = wallets.sandbox.status

    def as_a_real_provider(charge_id: uuid.UUID) -> ProviderStatus:
        return ProviderStatus("paid", 4_999) if charge_id == charge else real(charge_id)

    monkeypatch.setattr(wallets.sandbox, "status", as_a_real_provider)
    wallets.clock.advance(timedelta(days=3, seconds=1))
    expiry = wallets.runtime.api.state.expiry
    versions = []
    for _ in range(4):
        await wallets.quiesce()
        await expiry.run_once()
        versions.append(wallets.app.find_wallet(account).version)
    assert (await money(wallets, account))[0] == 0
    assert len(set(versions)) == 1, f"every tick changed the wallet: versions {versions}"


async def test_a_cancelled_notification_declines_the_pending_charge(wallets: Any) -> None:
    account, charge = await pending_charge(wallets, 6_000)
    assert await money(wallets, account) == (0, 6_000)
    body = notice(charge, 6_000, "cancelled", notification_id="ntf_cancel")
    reply = await wallets.notify(body)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"result": "declined"}
    assert await money(wallets, account) == (0, 0)
    answer = await wallets.client.get(
        f"/wallets/me/top-ups/{charge}", headers=wallets.auth(account)
    )
    assert answer.json()["status"] == "declined"
    assert answer.json()["decline_reason"] == "cancelled_by_provider"
    assert answer.json()["expires_at"] is None
    assert (await wallets.notify(body)).json() == {"result": "duplicate"}
    # money arriving for the cancelled charge afterwards is for the operator, not the balance
    late = await wallets.notify(notice(charge, 6_000, notification_id="ntf_after_cancel"))
    assert late.json() == {"result": "recorded_for_reconciliation"}
    assert await money(wallets, account) == (0, 0)
    await wallets.quiesce()
    rows = (await wallets.client.get("/reconciliations", headers=wallets.staff())).json()
    assert [(r["notification_id"], r["reason"]) for r in rows] == [
        ("ntf_after_cancel", "charge_declined")
    ]
    statement = (
        await wallets.client.get("/wallets/me/statement", headers=wallets.auth(account))
    ).json()
    # a cancelled top-up never moved the customer's money: no line, nothing pending
    assert (statement["items"], statement["pending"]) == ([], [])
    ledger = await wallets.client.get(f"/wallets/{account}/ledger", headers=wallets.staff())
    assert [(i["kind"], i["pending_after"]) for i in ledger.json()["items"]] == [
        ("charge_declined", 0),
        ("charge_requested", 6_000),
    ]
    assert not wallets.of_type("WalletCharged")


# -- bodies that cannot be read ---------------------------------------------------------


UNREADABLE_BODIES = [
    (b"{not json", "malformed_json"),
    (b"", "malformed_json"),
    (b"\xff\xfe\x00", "malformed_json"),
    (b"[]", "validation_failed"),
    (b'"paid"', "validation_failed"),
    (b"{}", "validation_failed"),
    (b"null", "validation_failed"),
]


async def test_a_validly_signed_body_that_is_not_a_notification_is_422(wallets: Any) -> None:
    seen = []
    for body, _ in UNREADABLE_BODIES:
        reply = await wallets.notify(body)
        seen.append((body, outcome(reply), bool(reply.json().get("errors"))))
    assert seen == [(body, (422, code), True) for body, code in UNREADABLE_BODIES]


INVALID_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"status": "refunded"}, "status"),
    ({"amount": -1}, "amount"),
    ({"amount": "3000円"}, "amount"),
    ({"amount": 3_000.5}, "amount"),
    ({"charge_id": "not-a-uuid"}, "charge_id"),
    ({"notification_id": "has spaces"}, "notification_id"),
    ({"notification_id": ""}, "notification_id"),
    ({"paid_at": "yesterday"}, "paid_at"),
    ({"notification_id": None}, "notification_id"),
]


async def test_a_validly_signed_invalid_notification_is_422_and_credits_nothing(
    wallets: Any,
) -> None:
    account, charge = await pending_charge(wallets)
    seen = []
    for change, _ in INVALID_FIELDS:
        body = {**json.loads(notice(charge, 3_000)), **change}
        reply = await wallets.notify(json.dumps(body).encode())
        assert reply.headers["content-type"].startswith(PROBLEM)
        fields = [e["field"] for e in reply.json().get("errors", [])]
        seen.append((change, outcome(reply), fields))
    assert seen == [(change, (422, "validation_failed"), [f]) for change, f in INVALID_FIELDS]
    assert await money(wallets, account) == (0, 3_000)


# -- the methods the provider confirms -----------------------------------------------------


async def test_a_bank_transfer_is_confirmed_by_the_providers_notification(wallets: Any) -> None:
    account, charge = await pending_charge(wallets, 12_000, "bank_transfer")
    details = (
        await wallets.client.get(f"/wallets/me/top-ups/{charge}", headers=wallets.auth(account))
    ).json()
    assert details["payment"]["transfer_amount"] == 12_000
    assert details["payment"]["account_number"]
    # the customer pays at the bank counter; the sandbox notifies the webhook
    paid = await wallets.sandbox_pay(charge)
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] is True
    assert paid.json()["result"] == "credited"
    assert await money(wallets, account) == (12_000, 0)
    assert await top_up_status(wallets, account, charge) == "confirmed"
    await wallets.wait_for(lambda: wallets.of_type("WalletCharged"))
    assert parse(wallets.of_type("WalletCharged")[0]).method == "bank_transfer"


async def test_a_net_bank_top_up_is_confirmed_when_the_customer_returns_having_paid(
    wallets: Any,
) -> None:
    account = await wallets.register()
    reply = await wallets.top_up(account, 20_000, "net_bank")
    assert reply.status_code == 201, reply.text
    charge = reply.json()
    assert charge["status"] == "pending"
    assert charge["payment"]["redirect_url"].startswith("https://")
    assert charge["charge_id"] in charge["payment"]["redirect_url"]
    charge_id = charge["charge_id"]
    assert await money(wallets, account) == (0, 20_000)
    paid = await wallets.sandbox_pay(charge_id)
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] is False
    assert paid.json()["return_to"].endswith(f"/wallets/me/top-ups/{charge_id}/return")
    assert await money(wallets, account) == (0, 20_000)  # not until the customer is back
    back = await wallets.client.post(
        f"/wallets/me/top-ups/{charge_id}/return", headers=wallets.auth(account)
    )
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "confirmed"
    assert back.json()["expires_at"] is None
    assert await money(wallets, account) == (20_000, 0)
    # coming back twice (a reload) credits nothing more
    again = await wallets.client.post(
        f"/wallets/me/top-ups/{charge_id}/return", headers=wallets.auth(account)
    )
    assert again.json()["status"] == "confirmed"
    assert await money(wallets, account) == (20_000, 0)
    await wallets.wait_for(lambda: wallets.of_type("WalletCharged"))
    await wallets.quiesce()
    assert len(wallets.of_type("WalletCharged")) == 1
    assert parse(wallets.of_type("WalletCharged")[0]).method == "net_bank"


async def test_a_net_bank_return_without_paying_leaves_the_top_up_pending(wallets: Any) -> None:
    account = await wallets.register()
    charge_id = (await wallets.top_up(account, 8_000, "net_bank")).json()["charge_id"]
    back = await wallets.client.post(
        f"/wallets/me/top-ups/{charge_id}/return", headers=wallets.auth(account)
    )
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "pending"
    assert back.json()["expires_at"]
    assert await money(wallets, account) == (0, 8_000)
    await wallets.quiesce()
    assert not wallets.of_type("WalletCharged")
