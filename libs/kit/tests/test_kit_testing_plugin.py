"""The test plugin itself: the embedded PostgreSQL that stands in for a server nobody
named (every client of ours reaches it over its unix socket, the fault proxy too), and
the skips counted by reason at the end of a run."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any

import asyncpg
import psycopg
import pytest
from eventsourcing.domain import Aggregate
from psycopg import sql

from pbx_events.store import ServiceApplication, ensure_schema, postgres_env
from pbx_kit.testing import _with_database, embedded_postgres, pytest_terminal_summary, why_failed
from pbx_kit.testing_faults import TcpProxy


class Reporter:
    def __init__(self, skipped: list[Any]) -> None:
        self.stats = {"skipped": skipped}
        self.lines: list[str] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.lines.append(f"== {title} ==")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def skip(nodeid: str, reason: str, when: str = "setup") -> Any:
    return SimpleNamespace(
        nodeid=nodeid, when=when, longrepr=("testing.py", 70, f"Skipped: {reason}")
    )


def test_the_skips_are_counted_by_reason_with_their_test_files() -> None:
    rabbit = "RabbitMQ unavailable: PBX_TEST_AMQP_URL unset, testcontainers: no Docker"
    reporter = Reporter(
        [
            skip("services/a/tests/test_a.py::test_one[real]", rabbit),
            skip("services/a/tests/test_a.py::test_two[real]", rabbit),
            skip("services/b/tests/test_b.py::test_three", rabbit),
            skip("cli/tests/test_c.py::test_four", "rabbitmqctl unavailable: not on PATH"),
        ]
    )

    pytest_terminal_summary(reporter)

    assert reporter.lines == [
        "== 4 skipped, by reason ==",
        f"3 skipped: {rabbit}",
        "      2  services/a/tests/test_a.py",
        "      1  services/b/tests/test_b.py",
        "1 skipped: rabbitmqctl unavailable: not on PATH",
        "      1  cli/tests/test_c.py",
    ]


def test_a_run_without_skips_prints_nothing_more() -> None:
    reporter = Reporter([])
    pytest_terminal_summary(reporter)
    assert reporter.lines == []


def test_a_missing_docker_is_said_in_two_words() -> None:
    docker_error = type("DockerException", (Exception,), {"__module__": "docker.errors"})
    assert why_failed(docker_error("Error while fetching server API version: ...")) == "no Docker"
    assert why_failed(OSError("no room\nmore")) == "OSError: no room"


def test_the_fault_proxy_stands_in_front_of_a_unix_socket() -> None:
    url = "postgresql://postgres:@/pbx_t_1?host=/tmp/pg&sslmode=disable"
    with TcpProxy.in_front_of(url) as proxy:
        assert proxy.target == ("/tmp/pg", 5432)
        assert (
            proxy.url(url)
            == f"postgresql://postgres:@127.0.0.1:{proxy.port}/pbx_t_1?sslmode=disable"
        )
    with TcpProxy.in_front_of("postgresql://root@10.0.0.5:6432/test") as proxy:
        assert proxy.target == ("10.0.0.5", 6432)
        assert proxy.url("postgresql://root@10.0.0.5:6432/test") == (
            f"postgresql://root@127.0.0.1:{proxy.port}/test"
        )


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


class NotesApp(ServiceApplication):
    pass


@pytest.mark.infra
async def test_the_embedded_server_serves_every_client_of_ours_on_a_database_of_a_test() -> None:
    """What ``database_url`` gives without ``PBX_TEST_DATABASE_URL`` (exercised here even
    when the run is on named servers, as in CI): psycopg, asyncpg, the event store's
    settings and the fault proxy all reach a per-test database over the unix socket."""
    with ExitStack() as stack:
        url = embedded_postgres(stack)
        assert url.startswith("postgresql://") and "host=/" in url
        name = f"pbx_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {0}").format(sql.Identifier(name)))
        db = _with_database(url, name)

        conn2 = await asyncpg.connect(db)
        try:
            assert await conn2.fetchval("SELECT current_database()") == name
        finally:
            await conn2.close()

        ensure_schema(db, "notes")
        app = NotesApp(postgres_env(db, "notes"))
        try:
            note = Note("hello")
            app.save(note)
            assert app.repository.get(note.id).text == "hello"
        finally:
            app.close()

        with TcpProxy.in_front_of(db) as proxy:
            proxy.open()
            conn3 = await asyncpg.connect(proxy.url(db))
            try:
                assert await conn3.fetchval("SELECT current_database()") == name
            finally:
                await conn3.close()
