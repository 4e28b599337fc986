"""Property-based API tests from identity's own OpenAPI (schemathesis): no input a
client can send yields a 500, and every response conforms to the documented schema."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.commands import LogIn, RegisterAccount
from pbx_identity.main import build
from pbx_identity.validation.registration import validate_registration
from pbx_kit.testing import fuzz_schemas, memory_infrastructure, services_in_background

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-fuzz-")))
RUNTIME = build(INFRA)
schema, logged_in = fuzz_schemas(RUNTIME.api)


@pytest.fixture(scope="module", autouse=True)
def identity_running() -> Iterator[None]:
    """The identity service (in-memory store, in-process bus) running in a background loop."""
    with services_in_background(INFRA, [RUNTIME]):
        app = RUNTIME.api.state.application
        data, errors = validate_registration(REGISTRATION_EXAMPLE)
        assert data is not None, errors
        login_id = app.register_account(RegisterAccount(data)).login_id
        CUSTOMER["token"] = app.log_in(
            LogIn(login_id, REGISTRATION_EXAMPLE["password"])
        ).access_token
        yield


CUSTOMER: dict[str, str] = {}

#: a body can match the documented shape and still break a business rule (a
#: hiragana furigana, a mobile screening number): that 422 is correct, so the
#: "schema-valid data must be accepted" check does not apply here
EXCLUDED = [positive_data_acceptance]


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_yields_a_server_error_and_responses_match_the_schema(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@logged_in.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_a_logged_in_customer_cannot_provoke_a_server_error_either(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {CUSTOMER['token']}"}, excluded_checks=EXCLUDED
    )
