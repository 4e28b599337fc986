"""A pytest plugin: real PostgreSQL and RabbitMQ for tests, never a silent skip in CI.

Servers come from ``PBX_TEST_DATABASE_URL`` / ``PBX_TEST_AMQP_URL`` when set.
Without a URL, PostgreSQL is the embedded one (the server ``./pbx up`` runs: one per
test session, in a temporary directory, deleted at the end), else testcontainers;
RabbitMQ comes from testcontainers (a machine with Docker). When nothing works the
test is skipped, unless ``PBX_REQUIRE_INFRA=1`` (CI), which turns it into a failure;
the run ends with the skips counted by reason. Every test gets a fresh database and
its own exchange, so tests never see each other's events.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REQUIRE_ENV = "PBX_REQUIRE_INFRA"


def pytest_configure(config: pytest.Config) -> None:
    """Log as the services do (JSON lines, plain tracebacks): the development renderer's
    tracebacks print local variables, bearer tokens included, and take seconds each."""
    from pbx_kit.logging import configure_logging

    configure_logging("INFO")


#: fixtures that reach the real servers
INFRA_FIXTURES = frozenset({"database_url", "fresh_database_url", "amqp_url", "amqp_broker"})
#: the values of a fixture's parameter that choose the real servers (the stack, a bus, a store)
INFRA_PARAMS = frozenset({"real", "postgres", "amqp"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``infra`` every test on the real servers (before ``-m`` selects), so
    ``-m "not infra"`` is the fast tier alone: a test that takes one of their fixtures, or
    a fixture's real parameter (``stack_kind="real"``, a Postgres store, the AMQP bus)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params.items() if callspec is not None else ()
        real = any(
            name in names and isinstance(value, str) and value in INFRA_PARAMS
            for name, value in params
        )
        if real or names & INFRA_FIXTURES:
            item.add_marker(pytest.mark.infra)


def infra_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def missing(what: str, why: str) -> None:
    message = f"{what} unavailable: {why}"
    if infra_required():
        pytest.fail(f"{message} ({REQUIRE_ENV} is set: infrastructure missing is a failure)")
    pytest.skip(message)


def why_failed(exc: BaseException) -> str:
    """Why a server could not be had, in a few words (a skip's reason, counted by it)."""
    if type(exc).__module__.startswith("docker"):
        return "no Docker"
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:120]}" if first else type(exc).__name__


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


#: how many test files a skip reason lists (``-v`` names every test)
SKIPPED_FILES_SHOWN = 12


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What was skipped and why: the skips counted by reason, with their test files."""
    skipped = [r for r in terminalreporter.stats.get("skipped", ()) if r.when != "teardown"]
    if not skipped:
        return
    by_reason: dict[str, Counter[str]] = {}
    for report in skipped:
        path = report.nodeid.split("::", 1)[0]
        by_reason.setdefault(_skip_reason(report), Counter())[path] += 1
    terminalreporter.write_sep("=", f"{len(skipped)} skipped, by reason")
    ranked = sorted(by_reason.items(), key=lambda item: -sum(item[1].values()))
    for reason, files in ranked:
        terminalreporter.write_line(f"{sum(files.values())} skipped: {reason}")
        shown = files.most_common(SKIPPED_FILES_SHOWN)
        for path, count in shown:
            terminalreporter.write_line(f"    {count:3d}  {path}")
        if len(files) > len(shown):
            terminalreporter.write_line(f"         ... and {len(files) - len(shown)} more files")


@pytest.fixture(scope="session")
def _containers() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def embedded_postgres(stack: ExitStack) -> str:
    """The embedded PostgreSQL (``./pbx up``'s) in a new temporary directory, stopped and
    deleted when ``stack`` closes; tuned for throwaway data (no fsync). Returns the URL of
    its ``pbx`` database: a unix socket, ``postgresql://postgres:@/pbx?host=/its/dir``.

    Not under pytest's ``tmp_path_factory``: as root the server runs as another user,
    which must traverse its parent directories, and pytest keeps its own private."""
    import tempfile

    import psycopg

    from pbx_kit.embedded_pg import EmbeddedPostgres

    base = Path(tempfile.mkdtemp(prefix="pbx-test-pg-"))
    stack.callback(shutil.rmtree, base, ignore_errors=True)
    server = EmbeddedPostgres(base)
    stack.callback(server.delete)
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime_dir:
        # the wheel's lock lives there for the rest of the process (servers that
        # `./pbx admin` starts in a test too): not in the directory deleted at the end
        os.environ["XDG_RUNTIME_DIR"] = str(
            Path(tempfile.gettempdir()) / f"pbx-tests-run-{os.getuid()}"
        )
    try:
        url = server.start()
    finally:  # the tests see it unchanged
        if runtime_dir is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = runtime_dir
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    return url


@pytest.fixture(scope="session")
def database_url(_containers: ExitStack) -> str:
    url = os.environ.get("PBX_TEST_DATABASE_URL")
    if url:
        return url
    try:
        return embedded_postgres(_containers)
    except Exception as exc:
        embedded = why_failed(exc)
    try:
        from testcontainers.community.postgres import PostgresContainer

        container = _containers.enter_context(PostgresContainer("postgres:16-alpine"))
        return str(container.get_connection_url(driver=None))
    except Exception as exc:  # no Docker here
        missing(
            "PostgreSQL",
            f"PBX_TEST_DATABASE_URL unset, embedded server: {embedded},"
            f" testcontainers: {why_failed(exc)}",
        )
        raise


@dataclass(frozen=True)
class Broker:
    url: str
    #: the testcontainers container when one was started (run rabbitmqctl inside it)
    container: Any = None

    def rabbitmqctl(self, *args: str) -> str:
        """Run ``rabbitmqctl`` against this broker (fault injection); returns its output."""
        import shutil
        import subprocess

        if self.container is not None:
            code, output = self.container.exec(["rabbitmqctl", *args])
            assert code == 0, output
            return str(output.decode() if isinstance(output, bytes) else output)
        binary = shutil.which("rabbitmqctl")
        if binary is None:
            missing("rabbitmqctl", "not on PATH: cannot inject broker faults")
        done = subprocess.run(  # noqa: S603 - fixed binary, our own arguments
            [str(binary), *args], capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout + done.stderr


@pytest.fixture(scope="session")
def amqp_broker(_containers: ExitStack) -> Broker:
    url = os.environ.get("PBX_TEST_AMQP_URL")
    if url:
        return Broker(url)
    try:
        from testcontainers.community.rabbitmq import RabbitMqContainer

        container = _containers.enter_context(RabbitMqContainer("rabbitmq:3.10"))
        host, port = container.get_container_host_ip(), container.get_exposed_port(container.port)
        return Broker(f"amqp://{container.username}:{container.password}@{host}:{port}/", container)
    except Exception as exc:
        missing("RabbitMQ", f"PBX_TEST_AMQP_URL unset, testcontainers: {why_failed(exc)}")
        raise


@pytest.fixture(scope="session")
def amqp_url(amqp_broker: Broker) -> str:
    return amqp_broker.url


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"pbx_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {0}").format(sql.Identifier(name)))
    yield _with_database(database_url, name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {0} WITH (FORCE)").format(sql.Identifier(name))
        )


@dataclass
class Stack:
    """What a flow test runs on: the bus kind and the settings for a service."""

    kind: str
    settings: Any
    database_url: str | None


@pytest.fixture(params=["memory", pytest.param("real", marks=pytest.mark.infra)])
def stack_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def stack(
    stack_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Stack]:
    """Both buses for the same flow test: in-process (in-memory store) and real servers."""
    from pbx_events.store import new_cipher_key
    from pbx_kit.settings import Settings

    exchange = f"test.{uuid.uuid4().hex[:10]}"
    if stack_kind == "memory":
        settings = Settings(
            amqp_url="memory://", data_dir=tmp_path, cipher_key=new_cipher_key(), exchange=exchange
        )
        yield Stack("memory", settings, None)
        return
    db = request.getfixturevalue("fresh_database_url")
    amqp = request.getfixturevalue("amqp_url")
    settings = Settings(
        amqp_url=amqp,
        database_url=db,
        data_dir=tmp_path,
        cipher_key=new_cipher_key(),
        exchange=exchange,
        queue_prefix=f"{exchange}.",
    )
    try:
        yield Stack("real", settings, db)
    finally:
        # every queue a bus of this test declared, whatever the test itself deletes: a
        # queue left behind holds broker file handles (3 per quorum queue), and a few
        # hundred of them stop the broker from accepting connections
        declared = tuple(sorted(_DECLARED.pop(exchange, set())))
        with contextlib.suppress(Exception):
            await delete_exchange(amqp, exchange, declared)


async def delete_exchange(amqp_url: str, exchange: str, queues: tuple[str, ...] = ()) -> None:
    """Remove a test's exchange, its audit stream and the given queues (with their DLQs)."""
    import asyncio

    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect(amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            for queue in queues:
                await channel.queue_delete(queue)
                await channel.queue_delete(f"{queue}.dlq")
            await channel.exchange_delete(exchange)
            await channel.queue_delete(f"{exchange}.audit")

    await asyncio.wait_for(delete(), 60)


@dataclass
class Served:
    """A service running on a test stack: its HTTP client, and every message it published."""

    infra: Any
    runtime: Any
    client: Any
    seen: list[Any]


@contextlib.asynccontextmanager
async def serving(
    stack: Stack,
    build: Any,
    published: str,
    own_queues: tuple[str, ...] = (),
) -> AsyncIterator[Served]:
    """Run ``build(infra)`` on the stack with an ASGI client, recording the messages
    matching ``published`` (a routing-key pattern); on the real stack, the test's
    exchange and queues (``own_queues``, prefixed as the services prefix them) go after."""
    import httpx

    from pbx_kit.host import running

    infra = infrastructure_for(stack)
    runtime = build(infra)
    queue = f"test.recorder.{uuid.uuid4().hex[:8]}"
    async with running(infra, [runtime]):
        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            served = Served(infra, runtime, client, [])

            async def on_message(delivery: Any) -> None:
                served.seen.append(delivery.message)

            await infra.bus.subscribe(queue, [published], on_message)
            yield served
    if stack.kind == "real":
        prefix = stack.settings.queue_prefix
        from pbx_kit.sessions import sessions_queue

        # every service also owns the queue of ended sessions
        await delete_exchange(
            stack.settings.amqp_url,
            stack.settings.exchange,
            (queue, *(prefix + q for q in own_queues), sessions_queue(runtime.name, prefix)),
        )


#: per test exchange, the queues its buses declared (the stack deletes them afterwards)
_DECLARED: dict[str, set[str]] = {}


def _record_queues(bus: Any, exchange: str) -> None:
    """Note each queue ``bus`` declares or subscribes, for the stack's teardown."""
    declared = _DECLARED.setdefault(exchange, set())
    declare_queue, subscribe = bus.declare_queue, bus.subscribe

    async def declaring(queue: str, routing_keys: Any) -> None:
        declared.add(queue)
        await declare_queue(queue, routing_keys)

    async def subscribing(queue: str, routing_keys: Any, handler: Any) -> Any:
        declared.add(queue)
        return await subscribe(queue, routing_keys, handler)

    bus.declare_queue = declaring
    bus.subscribe = subscribing


def infrastructure_for(stack: Stack) -> Any:
    """The Infrastructure a service is built on for this stack."""
    from pbx_events.memory import InMemoryBus
    from pbx_kit.mail import MaildirMailer
    from pbx_kit.runtime import Infrastructure, bus_for

    settings = stack.settings
    bus = bus_for(settings)
    if stack.kind == "memory":
        assert isinstance(bus, InMemoryBus)
    else:
        _record_queues(bus, settings.exchange)
    return Infrastructure(
        settings=settings,
        database_url=stack.database_url,
        bus=bus,
        mailer=MaildirMailer(settings.data_dir / "mail", settings.mail_from),
        cipher_key=settings.cipher_key,
    )


@contextlib.contextmanager
def services_in_background(infra: Any, runtimes: Any) -> Iterator[None]:
    """Run services (start hooks, loops) in a loop of their own thread, for synchronous
    callers such as schemathesis' ASGI client; stopped on exit."""
    import asyncio
    import threading

    from pbx_kit.host import running

    started, stop = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    async def serve() -> None:
        try:
            async with running(infra, runtimes):
                started.set()
                # `stop` is set from another thread: polled, not awaited
                while not stop.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(60), "services did not start"
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def memory_infrastructure(data_dir: Path) -> Any:
    """The in-memory store and in-process bus (fast property tests)."""
    from pbx_events.store import new_cipher_key
    from pbx_kit.mail import MaildirMailer
    from pbx_kit.runtime import Infrastructure, bus_for
    from pbx_kit.settings import Settings

    settings = Settings(amqp_url="memory://", data_dir=data_dir, cipher_key=new_cipher_key())
    return Infrastructure(
        settings=settings,
        database_url=None,
        bus=bus_for(settings),
        mailer=MaildirMailer(data_dir / "mail", settings.mail_from),
        cipher_key=str(settings.cipher_key),
    )


def fuzz_schemas(app: Any) -> tuple[Any, Any]:
    """Schemathesis schemas of an app's OpenAPI: (anonymous, logged in). The logged-in one
    leaves ``Authorization`` to the test, which sends a real token: otherwise schemathesis
    would count a request as missing its token (and expect 401) after the test added one."""
    import schemathesis

    anonymous = schemathesis.openapi.from_asgi("/openapi.json", app)
    logged_in = schemathesis.openapi.from_asgi("/openapi.json", app)
    logged_in.config.generation.update(with_security_parameters=False)
    return anonymous, logged_in
