"""``Idempotency-Key`` on the PostgreSQL store, the one services run with.

On the plugin's PostgreSQL (``PBX_TEST_DATABASE_URL``, else the embedded server; see
``pbx_kit.testing``). Each test gets its own schema and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pbx_kit.app import Edge, create_app
from pbx_kit.db import create_pool
from pbx_kit.idempotency import PostgresIdempotencyStore
from pbx_kit.logging import configure_logging

pytestmark = pytest.mark.infra

PROBLEM = "application/problem+json"

RUNS: dict[str, int] = {}


class OrderIn(BaseModel):
    note: str = ""


router = APIRouter()


@router.post("/orders", status_code=201)
def place_order(body: OrderIn, response: Response) -> dict[str, Any]:
    """Place an order (counts how often it really ran)."""
    RUNS["orders"] = run = RUNS.get("orders", 0) + 1
    response.headers["Location"] = f"/orders/{run}"
    return {"run": run, "note": body.note}


@router.post("/slow-orders", status_code=201)
def place_slow_order(body: OrderIn) -> dict[str, Any]:
    """Place an order slowly (for concurrent repeats)."""
    RUNS["slow"] = run = RUNS.get("slow", 0) + 1
    time.sleep(0.3)
    return {"run": run, "note": body.note}


@router.post("/flaky")
def flaky() -> JSONResponse:
    """Returns a server error without raising."""
    RUNS["flaky"] = RUNS.get("flaky", 0) + 1
    return JSONResponse({"status": "down"}, status_code=503)


@pytest.fixture(autouse=True)
def _fresh_runs() -> Iterator[None]:
    saved = structlog.get_config()
    configure_logging("INFO")
    RUNS.clear()
    yield
    RUNS.clear()
    structlog.configure(**saved)


@pytest.fixture
async def schema_pool(database_url: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    schema = f"test_idem_{uuid.uuid4().hex[:12]}"
    pool = await create_pool(database_url, schema)
    try:
        yield schema, pool
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()


@pytest.fixture
async def store(schema_pool: tuple[str, asyncpg.Pool]) -> PostgresIdempotencyStore:
    schema, pool = schema_pool
    store = PostgresIdempotencyStore(pool, schema)
    await store.create_table()
    await store.create_table()  # idempotent: every service start runs it
    return store


@pytest.fixture
def edge(store: PostgresIdempotencyStore) -> Edge:
    edge = Edge()
    edge.idempotency = store
    return edge


@pytest.fixture
def app(edge: Edge) -> FastAPI:
    return create_app("testsvc", title="Test service", routers=[router], edge=edge)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def stored_rows(store: PostgresIdempotencyStore) -> list[asyncpg.Record]:
    async with store.pool.acquire() as conn:
        return list(await conn.fetch(f"SELECT status, request_hash FROM {store.table}"))


async def test_same_key_and_body_replays_the_first_response(
    client: httpx.AsyncClient, store: PostgresIdempotencyStore
) -> None:
    headers = {"Idempotency-Key": "order-1"}

    first = await client.post("/orders", json={"note": "注文"}, headers=headers)
    second = await client.post("/orders", json={"note": "注文"}, headers=headers)

    assert RUNS["orders"] == 1
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first.json() == {"run": 1, "note": "注文"}
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["location"] == first.headers["location"] == "/orders/1"
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert [r["status"] for r in await stored_rows(store)] == [201]


async def test_replay_survives_a_new_store_instance(
    client: httpx.AsyncClient, edge: Edge, schema_pool: tuple[str, asyncpg.Pool]
) -> None:
    headers = {"Idempotency-Key": "order-restart"}
    first = await client.post("/orders", json={"note": "a"}, headers=headers)

    schema, pool = schema_pool
    edge.idempotency = PostgresIdempotencyStore(pool, schema)  # e.g. after a restart
    second = await client.post("/orders", json={"note": "a"}, headers=headers)

    assert RUNS["orders"] == 1
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content


async def test_same_key_with_a_different_body_is_refused(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-2"}
    first = await client.post("/orders", json={"note": "a"}, headers=headers)

    reused = await client.post("/orders", json={"note": "b"}, headers=headers)

    assert reused.status_code == 422
    assert reused.headers["content-type"] == PROBLEM
    assert reused.json()["code"] == "idempotency_key_reused"
    assert RUNS["orders"] == 1
    again = await client.post("/orders", json={"note": "a"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert RUNS["orders"] == 1


async def test_different_keys_and_callers_run_separately(client: httpx.AsyncClient) -> None:
    body = {"note": "a"}
    await client.post("/orders", json=body, headers={"Idempotency-Key": "k-1"})
    await client.post("/orders", json=body, headers={"Idempotency-Key": "k-2"})
    await client.post(
        "/orders", json=body, headers={"Idempotency-Key": "k-1", "Authorization": "Bearer bob"}
    )

    assert RUNS["orders"] == 3


async def test_concurrent_requests_with_the_same_key_run_once(
    client: httpx.AsyncClient, store: PostgresIdempotencyStore
) -> None:
    headers = {"Idempotency-Key": "race-1"}

    responses = await asyncio.gather(
        *(client.post("/slow-orders", json={"note": "a"}, headers=headers) for _ in range(3))
    )

    assert RUNS["slow"] == 1
    ran = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(ran) == 1
    for other in (r for r in responses if r is not ran[0]):
        if other.status_code == 409:
            assert other.headers["content-type"] == PROBLEM
            assert other.json()["code"] == "idempotency_in_progress"
        else:
            assert other.headers["idempotent-replayed"] == "true"
            assert other.content == ran[0].content
    assert [r["status"] for r in await stored_rows(store)] == [201]


async def test_server_error_is_not_stored_so_the_retry_runs_again(
    client: httpx.AsyncClient, store: PostgresIdempotencyStore
) -> None:
    headers = {"Idempotency-Key": "flaky-1"}
    first = await client.post("/flaky", headers=headers)
    retry = await client.post("/flaky", headers=headers)

    assert first.status_code == retry.status_code == 503
    assert RUNS["flaky"] == 2
    assert await stored_rows(store) == []


async def test_an_expired_key_runs_again(
    client: httpx.AsyncClient, edge: Edge, schema_pool: tuple[str, asyncpg.Pool]
) -> None:
    schema, pool = schema_pool
    edge.idempotency = PostgresIdempotencyStore(pool, schema, ttl=0)
    headers = {"Idempotency-Key": "old"}

    await client.post("/orders", json={"note": "a"}, headers=headers)
    second = await client.post("/orders", json={"note": "a"}, headers=headers)

    assert "idempotent-replayed" not in second.headers
    assert RUNS["orders"] == 2
