"""Property-based API tests from the cart's own OpenAPI (schemathesis): no input a client —
anonymous or a customer with a cart holding devices and a monthly item — can send yields
a 500, and responses match the schema. In-memory stack only (fast)."""

from __future__ import annotations

import datetime
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_cart.commands import AddLine
from pbx_cart.main import build
from pbx_kit.testing import fuzz_schemas, memory_infrastructure, services_in_background
from pbx_kit.testing_tokens import TokenMinter

from .conftest import PHONE, SHIPPING, UNIQUE

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-fuzz-cart-")))
RUNTIME = build(INFRA)
schema, logged_in = fuzz_schemas(RUNTIME.api)
CUSTOMER_ID = uuid.uuid4()
CUSTOMER: dict[str, str] = {}
#: a schema-valid body can still name a product or line that is not there (404/422), a
#: quantity beyond the product's maximum (422), a stale If-Match (412), an empty or mixed
#: cart at checkout (409): all correct
EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module", autouse=True)
def cart_running() -> Iterator[None]:
    with services_in_background(INFRA, [RUNTIME]):
        token = TokenMinter(INFRA.key_ring()).issue(str(CUSTOMER_ID), ["customer"])
        CUSTOMER["Authorization"] = f"Bearer {token}"
        app = RUNTIME.api.state.application
        for state in (PHONE, SHIPPING, UNIQUE):
            app.copy_product(state.model_dump(mode="json"))
        circle = uuid.uuid4()
        app.change_account_copy(
            CUSTOMER_ID,
            lambda copy: copy.circle_added(circle, datetime.date(2024, 9, 1).isoformat()),
        )
        app.add_line(AddLine(CUSTOMER_ID, PHONE.sku, 1))
        app.add_line(AddLine(CUSTOMER_ID, UNIQUE.sku, 1, circle))
        yield


@schema.parametrize()
@FUZZ
def test_no_anonymous_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@logged_in.parametrize()
@FUZZ
def test_no_customer_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=CUSTOMER, excluded_checks=EXCLUDED)
