"""The edge every service shares (``pbx_kit.create_app``), driven over ASGI.

A tiny router stands in for a service: sync ``def`` routes (FastAPI runs them
in a threadpool, as services do) that count how often they really ran and
record the correlation context they saw.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pbx_events import context
from pbx_kit.app import Edge, create_app
from pbx_kit.idempotency import MAX_KEY_LENGTH, MemoryIdempotencyStore
from pbx_kit.logging import configure_logging
from pbx_kit.mail import Mail, MaildirMailer
from pbx_kit.problems import TYPE_BASE, DomainError, FieldProblem, NotFoundError

MAX_BODY = 2048
PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}
UUID_RE = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
SECRET = "db-password=hunter2 at 10.0.0.7"


# --- the stand-in service ---------------------------------------------------------


@dataclass
class Runs:
    """What the routes really did (reset per test)."""

    seen: dict[str, list[context.Causation | None]] = field(default_factory=dict)

    def record(self, route: str) -> int:
        self.seen.setdefault(route, []).append(context.current())
        return len(self.seen[route])

    def count(self, route: str) -> int:
        return len(self.seen.get(route, []))

    def last(self, route: str) -> context.Causation | None:
        return self.seen[route][-1]


RUNS = Runs()


class MixedBillingError(DomainError):
    """Raised when a cart mixes monthly items with devices."""

    code = "mixed_billing"
    status = 409
    title = "Conflict"
    message_ja = "月額サービスと端末は同時にお申し込みいただけません。"


class OrderIn(BaseModel):
    note: str = ""


class Nested(BaseModel):
    count: int


class ProfileIn(BaseModel):
    name: str
    nested: Nested


router = APIRouter()


@router.post("/orders", status_code=201)
def place_order(body: OrderIn, response: Response) -> dict[str, Any]:
    """Place an order (counts how often it really ran)."""
    run = RUNS.record("orders")
    response.headers["Location"] = f"/orders/{run}"
    return {"run": run, "note": body.note}


@router.post("/slow-orders", status_code=201)
def place_slow_order(body: OrderIn) -> dict[str, Any]:
    """Place an order slowly (for concurrent repeats)."""
    run = RUNS.record("slow")
    time.sleep(0.3)
    return {"run": run, "note": body.note}


@router.post("/carts/checkout")
def check_out() -> dict[str, str]:
    """Always refused by a domain rule."""
    RUNS.record("checkout")
    raise MixedBillingError(
        errors=[FieldProblem(field="items", code="mixed_billing", message="同時購入できません。")]
    )


@router.get("/orders/{order_id}")
def get_order(order_id: str) -> dict[str, str]:
    """Never finds anything."""
    raise NotFoundError


@router.post("/profiles", status_code=201)
def create_profile(body: ProfileIn) -> dict[str, Any]:
    """Takes a body with an int and a nested model."""
    RUNS.record("profiles")
    return body.model_dump()


@router.post("/boom")
def boom() -> dict[str, str]:
    """A bug."""
    RUNS.record("boom")
    raise RuntimeError(SECRET)


@router.post("/flaky")
def flaky() -> JSONResponse:
    """Returns a server error without raising."""
    RUNS.record("flaky")
    return JSONResponse({"status": "down"}, status_code=503)


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _json_logs() -> Iterator[None]:
    """The services' JSON log config (the dev console renders 500 tracebacks for seconds)."""
    saved = structlog.get_config()
    configure_logging("INFO")
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def _fresh_runs() -> Iterator[None]:
    RUNS.seen.clear()
    yield
    RUNS.seen.clear()


@pytest.fixture
def edge() -> Edge:
    return Edge()


@pytest.fixture
def app(edge: Edge) -> FastAPI:
    return create_app(
        "testsvc", title="Test service", routers=[router], max_body_bytes=MAX_BODY, edge=edge
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


@pytest.fixture
async def lenient_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client`` but returns the 500 instead of re-raising the app's exception."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == TYPE_BASE + code
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["errors"], list)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", body["detail"]), "detail is Japanese"
    return body


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def json_of_size(size: int) -> bytes:
    """A valid ``OrderIn`` document of exactly ``size`` bytes."""
    empty = b'{"note": ""}'
    return b'{"note": "' + b"x" * (size - len(empty)) + b'"}'


# --- problem+json -------------------------------------------------------------------


async def test_domain_error_is_a_problem_with_its_status_code_and_errors(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/carts/checkout")

    body = assert_problem(response, 409, "mixed_billing")
    assert body["title"] == "Conflict"
    assert body["detail"] == MixedBillingError.message_ja
    assert body["errors"] == [
        {"field": "items", "code": "mixed_billing", "message": "同時購入できません。"}
    ]
    assert body["instance"] == "/carts/checkout"


async def test_not_found_error_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/o-1")

    body = assert_problem(response, 404, "not_found")
    assert body["detail"] == NotFoundError.message_ja
    assert body["errors"] == []


async def test_invalid_body_is_422_validation_failed_with_field_paths(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/profiles", json={"nested": {"count": "many"}})

    body = assert_problem(response, 422, "validation_failed")
    assert sorted(body["errors"], key=lambda e: e["field"]) == [
        {"field": "name", "code": "required", "message": "必須項目です。"},
        {"field": "nested.count", "code": "invalid_type", "message": "整数で入力してください。"},
    ]
    assert RUNS.count("profiles") == 0


async def test_nested_model_of_the_wrong_type_is_invalid_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/profiles", json={"name": "太郎", "nested": "x"})

    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"] == [
        {"field": "nested", "code": "invalid_type", "message": "オブジェクトで指定してください。"}
    ]


async def test_missing_body_is_required(client: httpx.AsyncClient) -> None:
    response = await client.post("/profiles")

    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"] == [{"field": "body", "code": "required", "message": "必須項目です。"}]


async def test_valid_body_reaches_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post("/profiles", json={"name": "太郎", "nested": {"count": 3}})

    assert response.status_code == 201
    assert response.json() == {"name": "太郎", "nested": {"count": 3}}
    assert RUNS.count("profiles") == 1


async def test_malformed_json_is_422_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/profiles", content=b'{"a":', headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 422, "malformed_json")
    assert body["errors"] == [
        {"field": "body", "code": "malformed_json", "message": "JSONの形式が正しくありません。"}
    ]
    assert RUNS.count("profiles") == 0


async def test_non_json_content_type_is_refused_as_a_problem(client: httpx.AsyncClient) -> None:
    # FastAPI does not parse a text/plain body as JSON even when it is JSON
    response = await client.post(
        "/profiles",
        content=b'{"name": "a", "nested": {"count": 1}}',
        headers={"content-type": "text/plain"},
    )

    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"] == [
        {"field": "body", "code": "invalid_type", "message": "オブジェクトで指定してください。"}
    ]
    assert RUNS.count("profiles") == 0


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")

    assert_problem(response, 404, "not_found")


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/profiles")

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_unexpected_error_is_a_500_problem_without_the_exception_text(
    lenient_client: httpx.AsyncClient,
) -> None:
    response = await lenient_client.post("/boom")

    body = assert_problem(response, 500, "internal_error")
    assert body["detail"] == "システムエラーが発生しました。時間をおいて再度お試しください。"
    assert body["errors"] == []
    assert RUNS.count("boom") == 1
    for leak in (SECRET, "hunter2", "RuntimeError", "Traceback"):
        assert leak not in response.text


def test_openapi_documents_the_problem_responses_on_post_routes(app: FastAPI) -> None:
    spec = app.openapi()

    for path in ("/orders", "/profiles"):
        responses = spec["paths"][path]["post"]["responses"]
        for status in ("400", "413", "422"):
            assert status in responses, (path, status)
            content = responses[status]["content"]
            assert PROBLEM in content
            refs = {media.get("schema", {}).get("$ref") for media in content.values()}
            assert "#/components/schemas/Problem" in refs
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) >= PROBLEM_KEYS
    assert set(problem["required"]) >= PROBLEM_KEYS - {"errors"}


# --- body limit ---------------------------------------------------------------------


async def test_declared_content_length_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", content=json_of_size(MAX_BODY + 1), headers={"content-type": "application/json"}
    )

    assert response.request.headers["content-length"] == str(MAX_BODY + 1)
    assert_problem(response, 413, "payload_too_large")
    assert UUID_RE.match(response.headers["x-correlation-id"])
    assert RUNS.count("orders") == 0


@pytest.mark.parametrize("idempotency_key", [None, "chunked-1"], ids=["no-key", "with-key"])
async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, idempotency_key: str | None
) -> None:
    document = json_of_size(MAX_BODY + 1)
    headers = {"content-type": "application/json"}
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key

    response = await client.post(
        "/orders",
        content=chunks(document[:1000], document[1000:2000], document[2000:]),
        headers=headers,
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload_too_large")
    assert RUNS.count("orders") == 0


async def test_body_at_the_limit_passes(client: httpx.AsyncClient) -> None:
    document = json_of_size(MAX_BODY)
    headers = {"content-type": "application/json"}

    declared = await client.post("/orders", content=document, headers=headers)
    chunked = await client.post(
        "/orders", content=chunks(document[:1500], document[1500:]), headers=headers
    )

    assert declared.status_code == 201, declared.text
    assert chunked.status_code == 201, chunked.text
    assert chunked.json()["note"] == "x" * (MAX_BODY - len(b'{"note": ""}'))
    assert RUNS.count("orders") == 2


# --- correlation --------------------------------------------------------------------


async def test_given_correlation_id_is_echoed_and_reaches_the_threadpool_route(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/orders", json={"note": "a"}, headers={"X-Correlation-ID": "corr-123:abc.DEF_9"}
    )

    assert response.status_code == 201
    assert response.headers["x-correlation-id"] == "corr-123:abc.DEF_9"
    seen = RUNS.last("orders")
    assert seen is not None
    assert seen.correlation_id == "corr-123:abc.DEF_9"
    assert seen.causation_id == response.headers["x-request-id"]
    assert UUID_RE.match(response.headers["x-request-id"])
    assert context.current() is None  # nothing leaks out of the request


@pytest.mark.parametrize(
    "given",
    [None, "", "x" * 300, "abc<script>", "a b", "日本語"],
    ids=["missing", "empty", "300-chars", "angle-bracket", "space", "non-ascii"],
)
async def test_missing_or_invalid_correlation_id_is_replaced_with_a_uuid(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Correlation-ID": given.encode()}

    response = await client.post("/orders", json={}, headers=headers)

    assert response.status_code == 201
    correlation_id = response.headers["x-correlation-id"]
    assert UUID_RE.match(correlation_id)
    seen = RUNS.last("orders")
    assert seen is not None
    assert seen.correlation_id == correlation_id
    assert seen.causation_id == response.headers["x-request-id"]


async def test_each_request_gets_its_own_request_id(client: httpx.AsyncClient) -> None:
    headers = {"X-Correlation-ID": "same-flow"}
    first = await client.post("/orders", json={}, headers=headers)
    second = await client.post("/orders", json={}, headers=headers)

    assert first.headers["x-correlation-id"] == second.headers["x-correlation-id"] == "same-flow"
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert [c.causation_id for c in RUNS.seen["orders"] if c] == [
        first.headers["x-request-id"],
        second.headers["x-request-id"],
    ]


async def test_problem_responses_carry_the_correlation_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/profiles", json={}, headers={"X-Correlation-ID": "flow-422"})

    assert response.status_code == 422
    assert response.headers["x-correlation-id"] == "flow-422"
    assert UUID_RE.match(response.headers["x-request-id"])


# --- idempotency (memory store) -------------------------------------------------------


async def test_same_key_and_body_replays_the_first_response(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-1"}

    first = await client.post("/orders", json={"note": "a"}, headers=headers)
    second = await client.post("/orders", json={"note": "a"}, headers=headers)

    assert RUNS.count("orders") == 1
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first.json() == {"run": 1, "note": "a"}
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["location"] == first.headers["location"] == "/orders/1"
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_same_key_with_a_different_body_is_refused(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-2"}
    first = await client.post("/orders", json={"note": "a"}, headers=headers)

    reused = await client.post("/orders", json={"note": "b"}, headers=headers)

    assert_problem(reused, 422, "idempotency_key_reused")
    assert RUNS.count("orders") == 1
    # the refusal does not overwrite what is stored
    again = await client.post("/orders", json={"note": "a"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert RUNS.count("orders") == 1


async def test_different_keys_run_twice(client: httpx.AsyncClient) -> None:
    first = await client.post("/orders", json={"note": "a"}, headers={"Idempotency-Key": "k-1"})
    second = await client.post("/orders", json={"note": "a"}, headers={"Idempotency-Key": "k-2"})

    assert RUNS.count("orders") == 2
    assert (first.json()["run"], second.json()["run"]) == (1, 2)
    assert "idempotent-replayed" not in second.headers


async def test_post_without_a_key_runs_every_time(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        response = await client.post("/orders", json={"note": "a"})
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers

    assert RUNS.count("orders") == 3


async def test_the_key_is_scoped_to_the_path(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "shared"}
    orders = await client.post("/orders", json={"note": "a"}, headers=headers)
    profiles = await client.post(
        "/profiles", json={"name": "a", "nested": {"count": 1}}, headers=headers
    )

    assert orders.status_code == profiles.status_code == 201
    assert (RUNS.count("orders"), RUNS.count("profiles")) == (1, 1)


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)], ids=["empty", "too-long"])
async def test_invalid_key_is_422(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/orders", json={"note": "a"}, headers={"Idempotency-Key": key})

    assert_problem(response, 422, "invalid_idempotency_key")
    assert RUNS.count("orders") == 0


async def test_key_of_the_maximum_length_is_accepted(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k" * MAX_KEY_LENGTH}
    await client.post("/orders", json={"note": "a"}, headers=headers)
    second = await client.post("/orders", json={"note": "a"}, headers=headers)

    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert RUNS.count("orders") == 1


async def test_server_error_is_not_stored_so_the_retry_runs_again(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "flaky-1"}
    first = await client.post("/flaky", headers=headers)
    retry = await client.post("/flaky", headers=headers)

    assert first.status_code == retry.status_code == 503
    assert "idempotent-replayed" not in retry.headers
    assert RUNS.count("flaky") == 2


async def test_unexpected_error_is_not_stored_so_the_retry_runs_again(
    lenient_client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "boom-1"}
    first = await lenient_client.post("/boom", headers=headers)
    retry = await lenient_client.post("/boom", headers=headers)

    assert first.status_code == retry.status_code == 500
    assert RUNS.count("boom") == 2


async def test_client_error_is_stored_and_replayed(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "checkout-1"}
    first = await client.post("/carts/checkout", headers=headers)
    second = await client.post("/carts/checkout", headers=headers)

    assert_problem(second, 409, "mixed_billing")
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert RUNS.count("checkout") == 1


async def test_keys_are_scoped_per_caller(client: httpx.AsyncClient) -> None:
    body = {"note": "a"}
    alice = await client.post(
        "/orders", json=body, headers={"Idempotency-Key": "k", "Authorization": "Bearer alice"}
    )
    bob = await client.post(
        "/orders", json=body, headers={"Idempotency-Key": "k", "Authorization": "Bearer bob"}
    )
    alice_again = await client.post(
        "/orders", json=body, headers={"Idempotency-Key": "k", "Authorization": "Bearer alice"}
    )

    assert RUNS.count("orders") == 2
    assert (alice.json()["run"], bob.json()["run"]) == (1, 2)
    assert "idempotent-replayed" not in bob.headers
    assert alice_again.headers["idempotent-replayed"] == "true"
    assert alice_again.content == alice.content


async def test_concurrent_requests_with_the_same_key_run_once(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "race-1"}

    responses = await asyncio.gather(
        client.post("/slow-orders", json={"note": "a"}, headers=headers),
        client.post("/slow-orders", json={"note": "a"}, headers=headers),
    )

    assert RUNS.count("slow") == 1
    ran = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(ran) == 1
    (other,) = [r for r in responses if r is not ran[0]]
    if other.status_code == 409:
        assert_problem(other, 409, "idempotency_in_progress")
        assert other.headers["retry-after"] == "1"
    else:
        assert other.headers["idempotent-replayed"] == "true"
        assert other.content == ran[0].content


async def test_an_expired_key_runs_again(edge: Edge, client: httpx.AsyncClient) -> None:
    edge.idempotency = MemoryIdempotencyStore(ttl=0)
    headers = {"Idempotency-Key": "old"}

    await client.post("/orders", json={"note": "a"}, headers=headers)
    second = await client.post("/orders", json={"note": "a"}, headers=headers)

    assert "idempotent-replayed" not in second.headers
    assert RUNS.count("orders") == 2


# --- health, readiness, metrics -----------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "testsvc"}


async def test_readyz_reports_checks_and_figures(edge: Edge, client: httpx.AsyncClient) -> None:
    async def database() -> tuple[bool, Any]:
        return True, "ok"

    async def relay_lag() -> tuple[bool, Any]:
        return True, 3

    async def broken_figure() -> tuple[bool, Any]:
        raise ConnectionError("gone")

    edge.checks["database"] = database
    edge.figures["relay_lag"] = relay_lag
    edge.figures["broken"] = broken_figure

    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "service": "testsvc",
        "checks": {
            "database": {"ok": True, "detail": "ok"},
            "relay_lag": {"value": 3},
            "broken": {"value": "ConnectionError"},
        },
    }


async def test_readyz_without_checks_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {}


async def test_readyz_is_503_when_a_check_fails(edge: Edge, client: httpx.AsyncClient) -> None:
    async def database() -> tuple[bool, Any]:
        return True, "ok"

    async def broker() -> tuple[bool, Any]:
        return False, "connection refused"

    edge.checks["database"] = database
    edge.checks["broker"] = broker

    response = await client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True, "detail": "ok"}
    assert body["checks"]["broker"] == {"ok": False, "detail": "connection refused"}


async def test_readyz_is_503_when_a_check_raises(edge: Edge, client: httpx.AsyncClient) -> None:
    async def broker() -> tuple[bool, Any]:
        raise TimeoutError("secret host 10.0.0.7")

    edge.checks["broker"] = broker

    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "detail": "TimeoutError"}
    assert "10.0.0.7" not in response.text


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.post("/orders", json={"note": "a"})

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert re.search(
        r'^pbx_http_requests_total\{method="POST",route="/orders",service="testsvc",'
        r'status="201"\} [1-9]',
        response.text,
        re.MULTILINE,
    ), response.text
    assert "pbx_http_request_seconds_bucket" in response.text


async def test_latency_is_labelled_by_route_template_and_status_class_never_the_raw_path(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/orders", json={"note": "a"})
    await client.get("/orders/o-12345")  # the route answers 404: it never finds anything
    await client.get("/no/such/path-98765")

    text = (await client.get("/metrics")).text

    assert re.search(
        r'^pbx_http_request_seconds_count\{method="POST",route="/orders",'
        r'service="testsvc",status_class="2xx"\} [1-9]',
        text,
        re.MULTILINE,
    ), text
    assert re.search(
        r'^pbx_http_request_seconds_count\{method="GET",route="/orders/\{order_id\}",'
        r'service="testsvc",status_class="4xx"\} [1-9]',
        text,
        re.MULTILINE,
    ), text
    assert re.search(
        r'^pbx_http_request_seconds_count\{method="GET",route="<unmatched>",'
        r'service="testsvc",status_class="4xx"\} [1-9]',
        text,
        re.MULTILINE,
    ), text
    assert "o-12345" not in text
    assert "path-98765" not in text


# --- mail -------------------------------------------------------------------------


SENDER = "クラウドPBX <no-reply@cloudpbx.example.jp>"
SUBJECT = "クラウドPBXお申し込みありがとうございました"


def a_mail(message_id: str, subject: str = SUBJECT) -> Mail:
    return Mail(
        to="taro@example.jp",
        subject=subject,
        body="山田 太郎 様\n\nお申し込みありがとうございました。\n",
        message_id=message_id,
    )


def delivered(path: Path) -> list[Path]:
    return [p for sub in ("new", "cur") for p in (path / sub).iterdir()]


def test_maildir_writes_each_message_id_once(tmp_path: Path) -> None:
    mailer = MaildirMailer(tmp_path / "mail", SENDER)

    mailer.send(a_mail("evt-1"))
    mailer.send(a_mail("evt-1"))
    mailer.send(a_mail("evt-2"))
    mailer.send(a_mail("evt-2", subject="別の件名"))

    assert len(delivered(tmp_path / "mail")) == 2
    assert len(mailer.messages()) == 2


def test_maildir_remembers_sent_mail_across_restarts(tmp_path: Path) -> None:
    MaildirMailer(tmp_path / "mail", SENDER).send(a_mail("evt-1"))

    again = MaildirMailer(tmp_path / "mail", SENDER)
    again.send(a_mail("evt-1"))

    assert len(delivered(tmp_path / "mail")) == 1


def test_maildir_japanese_subject_and_body_round_trip(tmp_path: Path) -> None:
    mailer = MaildirMailer(tmp_path / "mail", SENDER)
    mailer.send(a_mail("evt-1"))

    (message,) = mailer.messages()

    assert message["Subject"] == SUBJECT
    assert message["To"] == "taro@example.jp"
    assert message["From"].addresses[0].display_name == "クラウドPBX"
    assert message["Message-ID"] == "<evt-1@cloudpbx.example.jp>"
    assert message.get_content() == "山田 太郎 様\n\nお申し込みありがとうございました。\n"
    raw = delivered(tmp_path / "mail")[0].read_bytes()
    assert SUBJECT.encode() not in raw  # encoded on the wire, not raw UTF-8 in the header
