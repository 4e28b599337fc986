"""Who may read and change which wallet, and what bad input gets, on both stacks:
anonymous and staff callers, other customers' charges, top-up and threshold validation
(422 stores nothing), the unpaid-charge limit, statement paging."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pbx_wallet.domain.wallet import MAX_PENDING_CHARGES, TOP_UP_LIMITS

PROBLEM = "application/problem+json"


def assert_problem(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = reply.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["detail"] and problem["title"] and problem["type"]
    return problem


def owner_routes(charge_id: uuid.UUID) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/wallets/me", None),
        ("PATCH", "/wallets/me", {"low_balance_threshold": 1_000}),
        ("GET", "/wallets/me/statement", None),
        ("POST", "/wallets/me/top-ups", {"amount": 5_000, "method": "convenience_store"}),
        ("GET", f"/wallets/me/top-ups/{charge_id}", None),
        ("POST", f"/wallets/me/top-ups/{charge_id}/return", None),
    ]


def staff_routes(account_id: uuid.UUID) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/wallets/{account_id}", None),
        ("GET", f"/wallets/{account_id}/statement", None),
        ("GET", "/reconciliations", None),
        ("GET", "/reports/unused-balance?date=2025-03-31", None),
    ]


def outcome(reply: Any) -> tuple[int, str | None]:
    """A reply's status and problem code (a problem is always problem+json)."""
    if reply.status_code < 400:
        return reply.status_code, None
    assert reply.headers["content-type"].startswith(PROBLEM), reply.text
    code: str = reply.json()["code"]
    return reply.status_code, code


async def call(
    wallets: Any, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> Any:
    return await wallets.client.request(method, path, json=body, headers=headers)


async def money(wallets: Any, account: uuid.UUID) -> tuple[int, int]:
    data = await wallets.balance(account)
    return data["balance"], data["pending"]


async def statement(wallets: Any, account: uuid.UUID, **params: Any) -> dict[str, Any]:
    reply = await wallets.client.get(
        "/wallets/me/statement", params=params, headers=wallets.auth(account)
    )
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


# -- who may call -------------------------------------------------------------------


async def test_every_wallet_route_refuses_an_anonymous_caller(wallets: Any) -> None:
    account = await wallets.funded(2_000)
    charge = (await wallets.top_up(account, 3_000, "convenience_store")).json()["charge_id"]
    for method, path, body in owner_routes(uuid.UUID(charge)) + staff_routes(account):
        for headers in (
            {},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ):
            reply = await call(wallets, method, path, body, headers)
            assert reply.status_code == 401, (method, path, headers, reply.text)
            assert reply.headers["content-type"].startswith(PROBLEM)
            assert reply.json()["code"] in ("unauthorized", "invalid_token")
    # nothing happened on the customer's behalf
    assert await money(wallets, account) == (2_000, 3_000)


async def test_an_anonymous_top_up_with_a_bad_body_is_still_401(wallets: Any) -> None:
    reply = await wallets.client.post("/wallets/me/top-ups", json={"amount": "lots"})
    assert reply.status_code == 401, reply.text


async def test_a_staff_token_may_not_use_the_customers_own_routes(wallets: Any) -> None:
    seen, expected = [], []
    for role in ("reviewer", "warehouse", "auditor", "admin"):
        staff = wallets.staff(role)
        for method, path, body in owner_routes(uuid.uuid4()):
            reply = await call(wallets, method, path, body, staff)
            seen.append((role, method, path, outcome(reply), reply.json().get("instance")))
            expected.append((role, method, path, (403, "forbidden"), path))
    assert seen == expected


async def test_another_customers_charge_is_not_found(wallets: Any) -> None:
    owner = await wallets.register()
    stranger = await wallets.register()
    charge = (await wallets.top_up(owner, 5_000, "net_bank")).json()["charge_id"]
    await wallets.sandbox_pay(charge)
    read = await wallets.client.get(f"/wallets/me/top-ups/{charge}", headers=wallets.auth(stranger))
    assert_problem(read, 404, "charge_not_found")
    back = await wallets.client.post(
        f"/wallets/me/top-ups/{charge}/return", headers=wallets.auth(stranger)
    )
    assert_problem(back, 404, "charge_not_found")
    # the stranger's return confirmed nothing, for either of them
    assert await money(wallets, stranger) == (0, 0)
    assert await money(wallets, owner) == (0, 5_000)
    # a customer with no wallet at all, and a charge id nobody made
    nobody = wallets.auth(uuid.uuid4())
    for headers in (nobody, wallets.auth(owner)):
        for method, path in (
            ("GET", f"/wallets/me/top-ups/{uuid.uuid4()}"),
            ("POST", f"/wallets/me/top-ups/{uuid.uuid4()}/return"),
        ):
            reply = await wallets.client.request(method, path, headers=headers)
            assert_problem(reply, 404, "charge_not_found")
    # the owner still can
    mine = await wallets.client.get(f"/wallets/me/top-ups/{charge}", headers=wallets.auth(owner))
    assert mine.status_code == 200 and mine.json()["amount"] == 5_000


async def test_a_charge_id_that_is_not_a_uuid_is_422(wallets: Any) -> None:
    account = await wallets.register()
    reply = await wallets.client.get("/wallets/me/top-ups/abc", headers=wallets.auth(account))
    problem = assert_problem(reply, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["path.charge_id"]


async def test_auditor_and_admin_read_any_wallet_and_its_statement(wallets: Any) -> None:
    account = await wallets.funded(4_000)
    await wallets.top_up(account, 2_000, "bank_transfer")
    await wallets.quiesce()
    for role in ("auditor", "admin"):
        await read_as_staff(wallets, account, wallets.staff(role))


async def read_as_staff(wallets: Any, account: uuid.UUID, staff: dict[str, str]) -> None:
    read = await wallets.client.get(f"/wallets/{account}", headers=staff)
    assert read.status_code == 200, read.text
    assert read.json() == {
        "account_id": str(account),
        "balance": 4_000,
        "pending": 2_000,
        "low_balance_threshold": 0,
        "currency": "JPY",
    }
    lines = await wallets.client.get(f"/wallets/{account}/statement", headers=staff)
    assert lines.status_code == 200, lines.text
    assert lines.json() == await statement(wallets, account)
    assert [i["kind"] for i in lines.json()["items"]] == ["charge_confirmed"]
    assert [p["requested"] for p in lines.json()["pending"]] == [2_000]
    ledger = await wallets.client.get(f"/wallets/{account}/ledger", headers=staff)
    assert ledger.status_code == 200, ledger.text
    assert [i["kind"] for i in ledger.json()["items"]] == [
        "charge_requested",
        "charge_confirmed",
        "charge_requested",
    ]
    report = await wallets.client.get("/reports/unused-balance?date=2025-03-31", headers=staff)
    assert report.status_code == 200, report.text


async def test_a_customer_may_not_read_wallets_by_account_id_not_even_their_own(
    wallets: Any,
) -> None:
    account = await wallets.funded(1_000)
    other = await wallets.funded(1_000)
    await wallets.quiesce()
    for target in (other, account):
        for method, path, body in staff_routes(target):
            reply = await call(wallets, method, path, body, wallets.auth(account))
            assert_problem(reply, 403, "forbidden")
    for role in ("reviewer", "warehouse"):
        for method, path, body in staff_routes(other):
            reply = await call(wallets, method, path, body, wallets.staff(role))
            assert_problem(reply, 403, "forbidden")


async def test_an_unknown_account_has_no_wallet_for_staff(wallets: Any) -> None:
    unknown = uuid.uuid4()
    for path in (f"/wallets/{unknown}", f"/wallets/{unknown}/statement"):
        reply = await wallets.client.get(path, headers=wallets.staff())
        assert_problem(reply, 404, "wallet_not_found")
    malformed = await wallets.client.get("/wallets/not-an-id", headers=wallets.staff())
    assert_problem(malformed, 422, "validation_failed")


async def test_the_unused_balance_report_takes_any_date_without_a_server_error(
    wallets: Any,
) -> None:
    staff = wallets.staff()
    for day in ("2025-03-31", "0001-01-01", "9999-12-31"):
        reply = await wallets.client.get(f"/reports/unused-balance?date={day}", headers=staff)
        assert reply.status_code in (200, 422), (day, reply.text)
        assert reply.status_code == 200 or reply.json()["code"] == "validation_failed"


# -- top-up validation ---------------------------------------------------------------


def amount_problem(problem: dict[str, Any]) -> None:
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("amount", "amount_out_of_range")
    ]
    assert problem["errors"][0]["message"]


OUT_OF_RANGE = [
    (999, "credit_card"),
    (999, "convenience_store"),
    (999, "net_bank"),
    (999, "bank_transfer"),
    (300_000, "convenience_store"),
    (500_001, "credit_card"),
    (1_000_001, "net_bank"),
    (5_000_001, "bank_transfer"),
]


async def test_a_top_up_outside_the_methods_limits_is_amount_out_of_range(wallets: Any) -> None:
    account = await wallets.register()
    seen = []
    for amount, method in OUT_OF_RANGE:
        reply = await wallets.top_up(account, amount, method)
        errors = reply.json().get("errors", [])
        assert all(e["message"] for e in errors)
        seen.append((amount, method, outcome(reply), [(e["field"], e["code"]) for e in errors]))
    assert seen == [
        (amount, method, (422, "validation_failed"), [("amount", "amount_out_of_range")])
        for amount, method in OUT_OF_RANGE
    ]
    assert await money(wallets, account) == (0, 0)
    await wallets.quiesce()
    assert (await statement(wallets, account))["items"] == []


async def test_the_limits_themselves_are_accepted(wallets: Any) -> None:
    for method, (low, high) in TOP_UP_LIMITS.items():
        account = await wallets.register()
        for amount in (low, high):
            reply = await wallets.top_up(account, amount, method)
            assert reply.status_code == 201, (method, amount, reply.text)
            assert reply.json()["amount"] == amount
        assert sum(await money(wallets, account)) == low + high, method


MALFORMED_TOP_UPS: list[tuple[dict[str, Any], str, str]] = [
    ({"amount": 5_000, "method": "paypay"}, "method", "invalid_choice"),
    ({"amount": 5_000, "method": "CREDIT_CARD"}, "method", "invalid_choice"),
    ({"amount": 5_000}, "method", "required"),
    ({"method": "bank_transfer"}, "amount", "required"),
    ({"amount": 5_000.0, "method": "bank_transfer"}, "amount", "invalid_type"),
    ({"amount": 5_000.5, "method": "bank_transfer"}, "amount", "invalid_type"),
    ({"amount": "5000", "method": "bank_transfer"}, "amount", "invalid_type"),
    ({"amount": True, "method": "bank_transfer"}, "amount", "invalid_type"),
    ({"amount": None, "method": "bank_transfer"}, "amount", "invalid_type"),
    ({"amount": 0, "method": "bank_transfer"}, "amount", "amount_out_of_range"),
    ({"amount": -5_000, "method": "bank_transfer"}, "amount", "amount_out_of_range"),
    ({"amount": 10**20, "method": "bank_transfer"}, "amount", "amount_out_of_range"),
    (
        {"amount": 5_000, "method": "credit_card", "card_token": "4111111111111111"},
        "card_token",
        "invalid_format",
    ),
    (
        {"amount": 5_000, "method": "credit_card", "card_token": "tok_"},
        "card_token",
        "invalid_format",
    ),
    (
        {"amount": 5_000, "method": "credit_card", "card_token": "tok_a b"},
        "card_token",
        "invalid_format",
    ),
    (
        {"amount": 5_000, "method": "credit_card", "card_token": 4111},
        "card_token",
        "invalid_type",
    ),
    (
        {"amount": 5_000, "method": "bank_transfer", "discount": 100},
        "discount",
        "unknown_field",
    ),
]


async def test_a_malformed_top_up_is_422_with_the_field_and_stores_nothing(wallets: Any) -> None:
    account = await wallets.register()
    seen = []
    for body, field, code in MALFORMED_TOP_UPS:
        reply = await wallets.client.post(
            "/wallets/me/top-ups", json=body, headers=wallets.auth(account)
        )
        errors = [(e["field"], e["code"]) for e in reply.json().get("errors", [])]
        seen.append((body, outcome(reply), (field, code) in errors))
    assert seen == [(body, (422, "validation_failed"), True) for body, _, _ in MALFORMED_TOP_UPS]
    assert await money(wallets, account) == (0, 0)
    await wallets.quiesce()
    lines = await statement(wallets, account)
    assert (lines["items"], lines["total"]) == ([], 0)


async def test_a_card_top_up_without_a_card_token_is_refused_and_charges_nothing(
    wallets: Any,
) -> None:
    """A card charge needs the provider's token for the card: without one there is no card."""
    account = await wallets.register()
    for body in (
        {"amount": 5_000, "method": "credit_card"},
        {"amount": 5_000, "method": "credit_card", "card_token": None},
    ):
        reply = await wallets.client.post(
            "/wallets/me/top-ups", json=body, headers=wallets.auth(account)
        )
        problem = assert_problem(reply, 422, "validation_failed")
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [
            ("card_token", "card_token_required")
        ]
    assert await money(wallets, account) == (0, 0)
    await wallets.quiesce()
    assert (await statement(wallets, account))["total"] == 0


async def test_a_top_up_body_that_is_not_json_is_422(wallets: Any) -> None:
    account = await wallets.register()
    reply = await wallets.client.post(
        "/wallets/me/top-ups",
        content=b'{"amount": 5000,',
        headers={**wallets.auth(account), "Content-Type": "application/json"},
    )
    assert_problem(reply, 422, "malformed_json")
    assert await money(wallets, account) == (0, 0)


async def test_a_sixth_unpaid_charge_is_refused(wallets: Any) -> None:
    account = await wallets.register()
    methods = ["convenience_store", "bank_transfer", "net_bank"]
    charges = []
    for n in range(MAX_PENDING_CHARGES):
        reply = await wallets.top_up(account, 1_000 * (n + 1), methods[n % len(methods)])
        assert reply.status_code == 201, reply.text
        charges.append(reply.json()["charge_id"])
    assert await money(wallets, account) == (0, 15_000)
    for method in methods:
        refused = await wallets.top_up(account, 2_000, method)
        assert_problem(refused, 409, "too_many_pending_charges")
    assert await money(wallets, account) == (0, 15_000)
    # once one is paid another may be asked for
    paid = await wallets.sandbox_pay(charges[0])
    assert paid.json()["result"] == "credited"
    again = await wallets.top_up(account, 2_000, "convenience_store")
    assert again.status_code == 201, again.text
    assert await money(wallets, account) == (1_000, 16_000)
    assert_problem(
        await wallets.top_up(account, 2_000, "bank_transfer"), 409, "too_many_pending_charges"
    )


# -- the low-balance threshold ---------------------------------------------------------


async def test_the_low_balance_threshold_is_validated_and_kept(wallets: Any) -> None:
    account = await wallets.register()
    me = wallets.auth(account)
    for body, field, code in (
        ({"low_balance_threshold": -1}, "low_balance_threshold", "out_of_range"),
        ({"low_balance_threshold": 10_000_001}, "low_balance_threshold", "out_of_range"),
        ({"low_balance_threshold": 1_000.0}, "low_balance_threshold", "invalid_type"),
        ({"low_balance_threshold": "1000"}, "low_balance_threshold", "invalid_type"),
        ({}, "low_balance_threshold", "required"),
        ({"low_balance_threshold": 1_000, "mail": "x"}, "mail", "unknown_field"),
    ):
        reply = await wallets.client.patch("/wallets/me", json=body, headers=me)
        problem = assert_problem(reply, 422, "validation_failed")
        assert (field, code) in [(e["field"], e["code"]) for e in problem["errors"]], problem
    assert (await wallets.balance(account))["low_balance_threshold"] == 0
    ok = await wallets.client.patch(
        "/wallets/me", json={"low_balance_threshold": 3_000}, headers=me
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["low_balance_threshold"] == 3_000
    assert (await wallets.balance(account))["low_balance_threshold"] == 3_000
    off = await wallets.client.patch("/wallets/me", json={"low_balance_threshold": 0}, headers=me)
    assert off.json()["low_balance_threshold"] == 0
    await wallets.quiesce()
    # setting a threshold moves no money: the statement stays empty
    assert (await statement(wallets, account))["total"] == 0


# -- statement paging --------------------------------------------------------------------


async def test_the_statement_pages_newest_first_with_a_stable_total(wallets: Any) -> None:
    """One line per completed movement: seven card top-ups; the transfer awaiting payment
    is listed apart."""
    account = await wallets.register()
    for amount in range(1_000, 8_000, 1_000):
        assert (await wallets.top_up(account, amount)).status_code == 201
    assert (await wallets.top_up(account, 4_000, "bank_transfer")).status_code == 201
    await wallets.quiesce()
    whole = await statement(wallets, account, per_page=100)
    assert whole["total"] == 7 and len(whole["items"]) == 7
    entries = [i["entry"] for i in whole["items"]]
    assert entries == sorted(entries, reverse=True) and len(set(entries)) == 7
    stamps = [datetime.fromisoformat(i["posted_at"]) for i in whole["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert [(i["kind"], i["amount"], i["balance_after"]) for i in whole["items"]] == [
        ("charge_confirmed", 7_000, 28_000),
        ("charge_confirmed", 6_000, 21_000),
        ("charge_confirmed", 5_000, 15_000),
        ("charge_confirmed", 4_000, 10_000),
        ("charge_confirmed", 3_000, 6_000),
        ("charge_confirmed", 2_000, 3_000),
        ("charge_confirmed", 1_000, 1_000),
    ]
    assert [(p["method"], p["missing"]) for p in whole["pending"]] == [("bank_transfer", 4_000)]
    pages = [await statement(wallets, account, per_page=3, page=n) for n in (1, 2, 3, 4, 50)]
    assert [len(p["items"]) for p in pages] == [3, 3, 1, 0, 0]
    assert {p["total"] for p in pages} == {7}
    assert [(p["page"], p["per_page"]) for p in pages] == [(n, 3) for n in (1, 2, 3, 4, 50)]
    assert [i for p in pages for i in p["items"]] == whole["items"]
    default = await statement(wallets, account)
    assert (default["page"], default["per_page"], len(default["items"])) == (1, 20, 7)


BAD_PAGING: list[dict[str, Any]] = [
    {"per_page": 0},
    {"per_page": 101},
    {"per_page": -1},
    {"page": 0},
    {"page": 100_001},
    {"page": "two"},
    {"per_page": 2.5},
]


async def test_statement_paging_out_of_range_is_422(wallets: Any) -> None:
    account = await wallets.register()
    seen = []
    for params in BAD_PAGING:
        reply = await wallets.client.get(
            "/wallets/me/statement", params=params, headers=wallets.auth(account)
        )
        fields = [e["field"] for e in reply.json().get("errors", [])]
        seen.append((params, outcome(reply), fields))
    assert seen == [
        (params, (422, "validation_failed"), [f"query.{next(iter(params))}"])
        for params in BAD_PAGING
    ]


async def test_a_zero_or_negative_amount_is_told_the_methods_range(wallets: Any) -> None:
    """Not a bare "too small": the range of the method chosen, as GET /top-up-methods says."""
    account = await wallets.register()
    for amount in (0, -1, 999):
        reply = await wallets.top_up(account, amount, "credit_card")
        problem = assert_problem(reply, 422, "validation_failed")
        [error] = problem["errors"]
        assert (error["field"], error["code"]) == ("amount", "amount_out_of_range")
        assert error["message"] == "チャージ金額は1,000円以上500,000円以下で指定してください。"
    assert await money(wallets, account) == (0, 0)
