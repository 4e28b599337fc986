"""The shared edge while a server it needs is out of reach: 503 problem+json with
``Retry-After`` for an outage (and only for an outage: a bug stays 500), ``/readyz``
answering within a second whatever its checks do, and a real PostgreSQL behind a TCP
proxy the test cuts and restores."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import psycopg
import psycopg_pool
import pytest
import structlog
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from fastapi import APIRouter, FastAPI, Request

from pbx_kit.app import CHECK_DEADLINE_SECONDS, Edge, create_app
from pbx_kit.db import create_pool, database_check
from pbx_kit.idempotency import (
    ABANDONED_AFTER_SECONDS,
    MemoryIdempotencyStore,
    PostgresIdempotencyStore,
    StoredResponse,
)
from pbx_kit.logging import configure_logging
from pbx_kit.problems import RETRY_AFTER_SECONDS, TYPE_BASE
from pbx_kit.testing_faults import TcpProxy

PROBLEM = "application/problem+json"

OUTAGES: dict[str, BaseException] = {
    "store-timeout": OperationalError("couldn't get a connection after 2.00 sec"),
    "store-link": InterfaceError("the connection is lost"),
    "pool-timeout": psycopg_pool.PoolTimeout("couldn't get a connection after 2.00 sec"),
    "psycopg-refused": psycopg.OperationalError("connection refused"),
    "asyncpg-gone": asyncpg.ConnectionDoesNotExistError("connection was closed"),
    "asyncpg-starting": asyncpg.CannotConnectNowError("the database system is starting up"),
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "acquire-timeout": TimeoutError(),
}
BUGS: dict[str, BaseException] = {
    "bug": RuntimeError("a bug"),
    "unhandled-conflict": IntegrityError("duplicate key value violates unique constraint"),
    "bad-sql": psycopg.errors.UndefinedTable("relation does not exist"),
}

router = APIRouter()
runs: list[str] = []


@router.post("/fail/{what}")
def fail(what: str) -> dict[str, str]:
    """Raise the named error (a command on the event store)."""
    runs.append(what)
    raise {**OUTAGES, **BUGS}[what]


@router.get("/read/{what}")
async def read(what: str) -> dict[str, str]:
    """Raise the named error (a read model query on asyncpg)."""
    raise {**OUTAGES, **BUGS}[what]


@router.post("/flaky-command")
def flaky_command() -> dict[str, int]:
    """Fails with the store down the first time, succeeds after."""
    runs.append("flaky")
    if len(runs) == 1:
        raise OperationalError("couldn't get a connection after 2.00 sec")
    return {"runs": len(runs)}


@pytest.fixture(autouse=True)
def _json_logs_and_fresh_runs() -> Iterator[None]:
    saved = structlog.get_config()
    configure_logging("INFO")
    runs.clear()
    yield
    runs.clear()
    structlog.configure(**saved)


@pytest.fixture
def edge() -> Edge:
    return Edge()


@pytest.fixture
def app(edge: Edge) -> FastAPI:
    return create_app("testsvc", title="Test service", routers=[router], edge=edge)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions stays on: an exception escaping the app fails the test
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["x-correlation-id"]
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["type"] == TYPE_BASE + "service_unavailable"
    assert body["status"] == 503
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", body["detail"]), "detail is Japanese"


@pytest.mark.parametrize("what", sorted(OUTAGES))
async def test_a_command_meeting_an_outage_answers_503_with_retry_after(
    client: httpx.AsyncClient, what: str
) -> None:
    assert_unavailable(await client.post(f"/fail/{what}"))
    assert_unavailable(await client.get(f"/read/{what}"))


@pytest.mark.parametrize("what", sorted(BUGS))
async def test_a_bug_stays_a_500_not_an_outage(app: FastAPI, what: str) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(f"/fail/{what}")
    assert response.status_code == 500, response.text
    assert response.json()["code"] == "internal_error"
    assert "retry-after" not in response.headers


async def test_a_503_is_not_replayed_for_its_idempotency_key(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-1"}
    assert_unavailable(await client.post("/flaky-command", headers=headers))
    again = await client.post("/flaky-command", headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == {"runs": 2}
    replayed = await client.post("/flaky-command", headers=headers)
    assert replayed.json() == {"runs": 2}
    assert replayed.headers["idempotent-replayed"] == "true"


class UnreachableKeyStore(MemoryIdempotencyStore):
    """The Idempotency-Key table lives in the database that went away."""

    def __init__(self, fail_begin: bool) -> None:
        super().__init__()
        self.fail_begin = fail_begin

    async def begin(self, scope_key: str, request_hash: str) -> StoredResponse | None:
        if self.fail_begin:
            raise ConnectionRefusedError(111, "Connection refused")
        return await super().begin(scope_key, request_hash)

    async def abandon(self, scope_key: str) -> None:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")


@pytest.mark.parametrize("fail_begin", [True, False], ids=["at-claim", "at-release"])
async def test_an_unreachable_idempotency_store_answers_503_too(
    edge: Edge, client: httpx.AsyncClient, fail_begin: bool
) -> None:
    edge.idempotency = UnreachableKeyStore(fail_begin)
    response = await client.post("/fail/store-timeout", headers={"Idempotency-Key": "k-1"})
    assert_unavailable(response)
    assert runs == ([] if fail_begin else ["store-timeout"])


def test_every_route_documents_the_503(app: FastAPI) -> None:
    document: dict[str, Any] = app.openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "503" in operation["responses"], (method, path)


async def test_readyz_answers_within_a_second_whatever_its_checks_do(
    edge: Edge, client: httpx.AsyncClient
) -> None:
    async def hangs() -> tuple[bool, str]:
        await asyncio.sleep(60)
        return True, "ok"

    async def fine() -> tuple[bool, str]:
        await asyncio.sleep(CHECK_DEADLINE_SECONDS / 2)
        return True, "ok"

    async def raises() -> tuple[bool, str]:
        raise ConnectionRefusedError(111, "Connection refused")

    async def lag() -> tuple[bool, int]:
        await asyncio.sleep(60)
        return True, 0

    edge.checks.update({"database": hangs, "broker": fine, "other": raises, "also": fine})
    edge.figures["relay_lag"] = lag
    started = time.monotonic()
    response = await client.get("/readyz")
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": False, "detail": "timeout"}
    # run together: two checks of half the deadline each both answered in time
    assert checks["broker"] == {"ok": True, "detail": "ok"}
    assert checks["also"] == {"ok": True, "detail": "ok"}
    assert checks["other"] == {"ok": False, "detail": "ConnectionRefusedError"}
    assert checks["relay_lag"] == {"value": "timeout"}


# --- a real PostgreSQL through a proxy -------------------------------------------------


@pytest.fixture
def proxy(fresh_database_url: str) -> Iterator[TcpProxy]:
    with TcpProxy.in_front_of(fresh_database_url) as tcp:
        tcp.open()
        yield tcp


@pytest.mark.infra
async def test_with_postgresql_cut_off_reads_answer_503_quickly_and_recover_after(
    fresh_database_url: str, proxy: TcpProxy
) -> None:
    pool = await create_pool(proxy.url(fresh_database_url), "outage")
    edge = Edge()
    edge.checks["database"] = database_check(pool)
    reads = APIRouter()

    @reads.get("/count")
    async def count(request: Request) -> dict[str, int]:
        """A read model query."""
        async with pool.acquire() as conn:
            return {"count": int(await conn.fetchval("SELECT count(*) FROM pg_class"))}

    app = create_app("outage", title="Outage", routers=[reads], edge=edge)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            assert (await client.get("/count")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200

            for cut in (proxy.cut, proxy.stall):
                cut()
                started = time.monotonic()
                ready = await client.get("/readyz")
                assert time.monotonic() - started < 1.0
                assert ready.status_code == 503
                assert ready.json()["checks"]["database"]["ok"] is False
                if cut is proxy.cut:
                    started = time.monotonic()
                    assert_unavailable(await client.get("/count"))
                    assert time.monotonic() - started < 5.0

                proxy.open()
                deadline = time.monotonic() + 10
                while (await client.get("/count")).status_code != 200:
                    assert time.monotonic() < deadline, "reads did not recover"
                    await asyncio.sleep(0.2)
                assert (await client.get("/readyz")).status_code == 200
    finally:
        pool.terminate()


@pytest.mark.infra
async def test_a_key_left_in_progress_by_an_outage_is_taken_as_abandoned_after_a_minute(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, "keys")
    try:
        store = PostgresIdempotencyStore(pool, "keys")
        await store.create_table()
        # the first request claimed the key, answered 503, and could not release it
        assert await store.begin("stuck", "hash") is None
        assert await store.begin("recent", "hash") is None
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE keys.idempotency_keys SET created_at = now() - make_interval(secs => $1) "
                "WHERE scope_key = 'stuck'",
                float(ABANDONED_AFTER_SECONDS + 1),
            )

        assert await store.begin("stuck", "hash") is None  # claimed afresh: the retry runs
        running = await store.begin("recent", "hash")  # may still be running: not taken
        assert running is not None
        assert running.status is None
        await store.complete("recent", 201, [], b"{}")
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE keys.idempotency_keys SET created_at = now() - make_interval(secs => $1)",
                float(ABANDONED_AFTER_SECONDS + 1),
            )
        answered = await store.begin("recent", "hash")  # an answer is kept for the whole ttl
        assert answered is not None
        assert answered.status == 201
    finally:
        pool.terminate()
