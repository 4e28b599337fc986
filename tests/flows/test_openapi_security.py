"""What a gateway generating a client from each service's OpenAPI gets right by default:
which operations need the bearer token, the ``Idempotency-Key`` on every POST, and the
correlation header on every operation."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from pbx_cli.services import SERVICES
from pbx_kit.auth import current_caller
from pbx_kit.testing import memory_infrastructure

INFRA = memory_infrastructure(Path(tempfile.mkdtemp(prefix="pbx-openapi-")))
APPS = {name: build(INFRA).api for name, build in SERVICES.items()}
METHODS = ("get", "put", "post", "delete", "patch")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def needs_login(app: Any, method: str, path: str) -> bool:
    """Whether the route itself depends on ``current_caller`` (read from the routes, not
    from the OpenAPI under test)."""

    def uses(dependant: Any) -> bool:
        return any(d.call is current_caller or uses(d) for d in dependant.dependencies)

    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if context.path == path and method.upper() in getattr(route, "methods", ()):
            return uses(route.dependant)  # type: ignore[attr-defined]
    raise AssertionError(f"no route {method} {path}")


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_operation_that_needs_a_login_declares_the_bearer_scheme(service: str) -> None:
    app = APPS[service]
    document = app.openapi()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    checked = 0
    for method, path, operation in operations(document):
        declared = operation.get("security") == [{"bearerAuth": []}]
        assert declared == needs_login(app, method, path), (method, path)
        if declared:
            assert "401" in operation["responses"], (method, path)
            checked += 1
    assert checked, "no operation needs a login?"


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_post_documents_its_idempotency_key_and_every_operation_the_correlation_id(
    service: str,
) -> None:
    for method, path, operation in operations(APPS[service].openapi()):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "X-Correlation-ID" in headers, (method, path)
        assert ("Idempotency-Key" in headers) == (method == "post"), (method, path)


async def test_the_wallet_documents_each_top_up_methods_limits() -> None:
    app = APPS["wallet"]
    schema = app.openapi()["components"]["schemas"]["TopUpIn"]
    limits = {
        rule["if"]["properties"]["method"]["const"]: (
            rule["then"]["properties"]["amount"]["minimum"],
            rule["then"]["properties"]["amount"]["maximum"],
        )
        for rule in schema["allOf"]
    }
    assert limits["convenience_store"] == (1_000, 299_999)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://wallet"
    ) as client:
        listed = (await client.get("/top-up-methods")).json()
    assert {m["method"]: (m["min_amount"], m["max_amount"]) for m in listed} == limits
    assert [m["name"] for m in listed] == [
        "クレジットカード",
        "ネットバンキング",
        "コンビニ払い",
        "銀行振込",
    ]
