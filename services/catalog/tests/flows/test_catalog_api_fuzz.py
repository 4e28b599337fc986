"""Property-based API tests from the catalog's own OpenAPI (schemathesis): no input a
client — anonymous or admin — can send yields a 500, and responses match the schema."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_catalog.main import build
from pbx_kit.testing import fuzz_schemas, memory_infrastructure, services_in_background
from pbx_kit.testing_tokens import TokenMinter

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-fuzz-catalog-")))
RUNTIME = build(INFRA)
schema, logged_in = fuzz_schemas(RUNTIME.api)
ADMIN = {
    "Authorization": "Bearer " + TokenMinter(INFRA.key_ring()).issue(str(uuid.uuid4()), ["admin"])
}
#: a schema-valid body can still meet a taken SKU or a stale version (409): correct
EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module", autouse=True)
def catalog_running() -> Iterator[None]:
    with services_in_background(INFRA, [RUNTIME]):
        token = TokenMinter(INFRA.key_ring()).issue(str(uuid.uuid4()), ["admin"])
        ADMIN["Authorization"] = f"Bearer {token}"
        yield


@schema.parametrize()
@FUZZ
def test_no_anonymous_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@logged_in.parametrize()
@FUZZ
def test_no_admin_input_yields_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=ADMIN, excluded_checks=EXCLUDED)
