"""Property-based API tests from the kyc service's own OpenAPI (schemathesis): no input
a client — anonymous, a customer or a reviewer — can send yields a 500, and every
response conforms to the documented schema. In-memory stack only (fast)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_kit.testing import fuzz_schemas, memory_infrastructure, services_in_background
from pbx_kit.testing_tokens import TokenMinter
from pbx_kyc.application import OpenReview
from pbx_kyc.main import build

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-fuzz-kyc-")))
RUNTIME = build(INFRA)
schema, logged_in = fuzz_schemas(RUNTIME.api)

CUSTOMER: dict[str, str] = {}
REVIEWER: dict[str, str] = {}

#: a schema-valid body can still break a rule (a random file is no JPEG: 415/422; a
#: review not open: 409; an id nobody made: 404) — all correct answers
EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def bearer(subject: uuid.UUID, role: str) -> dict[str, str]:
    token = TokenMinter(INFRA.key_ring()).issue(str(subject), [role])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", autouse=True)
def kyc_running() -> Iterator[None]:
    """The kyc service running, with a customer whose review is open."""
    with services_in_background(INFRA, [RUNTIME]):
        account = uuid.uuid4()
        app = RUNTIME.api.state.application
        app.open_review(OpenReview(account, "individual", "business", True))
        CUSTOMER.update(bearer(account, "customer"))
        REVIEWER.update(bearer(uuid.uuid4(), "reviewer"))
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
def test_no_reviewer_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=REVIEWER, excluded_checks=EXCLUDED)
