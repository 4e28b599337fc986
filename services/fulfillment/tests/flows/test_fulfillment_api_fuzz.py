"""Property-based API tests from fulfillment's own OpenAPI (schemathesis): no input a client
— anonymous, a customer, the warehouse or an operator — can send yields a 500. In-memory
stack only (fast)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_fulfillment.main import build
from pbx_kit.testing import fuzz_schemas, memory_infrastructure, services_in_background
from pbx_kit.testing_tokens import TokenMinter

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-fuzz-fulfillment-")))
RUNTIME = build(INFRA)
schema, logged_in = fuzz_schemas(RUNTIME.api)
CUSTOMER: dict[str, str] = {}
WAREHOUSE: dict[str, str] = {}
OPERATOR: dict[str, str] = {}
#: a schema-valid request can still name an order nobody has (404): correct
EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module", autouse=True)
def fulfillment_running() -> Iterator[None]:
    with services_in_background(INFRA, [RUNTIME]):
        minter = TokenMinter(INFRA.key_ring())
        for headers, role in (
            (CUSTOMER, "customer"),
            (WAREHOUSE, "warehouse"),
            (OPERATOR, "admin"),
        ):
            headers["Authorization"] = f"Bearer {minter.issue(str(uuid.uuid4()), [role])}"
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
def test_no_warehouse_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=WAREHOUSE, excluded_checks=EXCLUDED)


@logged_in.parametrize()
@FUZZ
def test_no_operator_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=OPERATOR, excluded_checks=EXCLUDED)
