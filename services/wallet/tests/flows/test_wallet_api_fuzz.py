"""Property-based API tests from the wallet's own OpenAPI (schemathesis): no input a
client — anonymous, a logged-in customer or an auditor — can send yields a 500, and
every response conforms to the documented schema. The provider's webhook, which refuses
every unsigned call, is also fuzzed with validly signed bodies (hypothesis). In-memory
stack only (fast)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_kit.problems import Problem
from pbx_kit.testing import fuzz_schemas, memory_infrastructure, services_in_background
from pbx_kit.testing_tokens import TokenMinter
from pbx_wallet.api import NotificationOut
from pbx_wallet.commands import RequestTopUp
from pbx_wallet.main import build
from pbx_wallet.payments import sign

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-fuzz-wallet-")))
RUNTIME = build(INFRA)
schema, logged_in = fuzz_schemas(RUNTIME.api)

#: bearer headers, issued once the service runs (tokens are short-lived)
CUSTOMER: dict[str, str] = {}
AUDITOR: dict[str, str] = {}
#: the account whose charges the signed-webhook fuzz names, and those charges' ids
PAYER = uuid.uuid4()
CHARGES: list[str] = []

#: a schema-valid body can still break a rule: an amount outside the method's limits
#: (422), a sixth unpaid charge (409), a declined card (402), a webhook call without
#: the provider's signature (401), a charge id nobody made (404); all correct
EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def bearer(role: str) -> dict[str, str]:
    token = TokenMinter(INFRA.key_ring()).issue(str(uuid.uuid4()), [role])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", autouse=True)
def wallet_running() -> Iterator[None]:
    """The wallet (in-memory store, in-process bus) running in a background loop."""
    with services_in_background(INFRA, [RUNTIME]):
        CUSTOMER.update(bearer("customer"))
        AUDITOR.update(bearer("auditor"))
        app = RUNTIME.api.state.application
        for amount, method, token in (
            (3_000, "convenience_store", None),
            (5_000, "bank_transfer", None),
            (8_000, "net_bank", None),
            (2_000, "credit_card", "tok_visa"),
        ):
            charge_id, _ = app.request_top_up(RequestTopUp(PAYER, amount, method, token))
            CHARGES.append(str(charge_id))
        yield


@schema.parametrize()
@FUZZ
def test_no_anonymous_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@logged_in.parametrize()
@FUZZ
def test_no_customer_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=CUSTOMER, excluded_checks=EXCLUDED)


@logged_in.parametrize()
@FUZZ
def test_no_auditor_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=AUDITOR, excluded_checks=EXCLUDED)


# -- the webhook, validly signed ---------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything JSON."""
    return st.one_of(valid, valid, valid, JSON)


NOTICE = st.fixed_dictionaries(
    {
        "notification_id": field(st.from_regex(r"\Antf_[A-Za-z0-9_:-]{1,20}\Z")),
        "charge_id": field(st.deferred(lambda: st.sampled_from(CHARGES)) | st.uuids().map(str)),
        "status": field(st.sampled_from(["paid", "cancelled"])),
        "amount": field(st.sampled_from([2_000, 3_000, 5_000, 8_000]) | st.integers(-10, 10**9)),
    },
    optional={
        "paid_at": field(st.datetimes().map(lambda d: d.isoformat())),
        "extra": JSON,
    },
)
BODIES = st.one_of(
    NOTICE.map(lambda body: json.dumps(body).encode()),
    JSON.map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=64),
)


async def post_notification(body: bytes, header: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=RUNTIME.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wallet") as client:
        return await client.post(
            "/payment-notifications",
            content=body,
            headers={"Pbx-Signature": header, "Content-Type": "application/json"},
        )


@given(body=BODIES)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_validly_signed_notification_yields_a_server_error_or_breaks_the_ledger(
    body: bytes,
) -> None:
    app = RUNTIME.api.state.application
    secret = RUNTIME.api.state.webhook_secrets[0]
    header = sign(secret, body, int(app.clock().timestamp()))
    reply = asyncio.run(post_notification(body, header))
    assert reply.status_code in (200, 404, 422), reply.text
    if reply.status_code == 200:
        NotificationOut.model_validate(reply.json())
    else:
        assert reply.headers["content-type"].startswith("application/problem+json")
        Problem.model_validate(reply.json())
    # the ledger holds: spendable is what was confirmed, pending what still waits
    wallet = app.find_wallet(PAYER)
    charges = wallet.charges.values()
    assert wallet.balance == sum(c["amount"] for c in charges if c["status"] == "confirmed")
    assert wallet.pending == sum(c["amount"] for c in charges if c["status"] == "pending")
