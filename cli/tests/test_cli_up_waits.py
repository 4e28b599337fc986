"""``./pbx up`` on real servers that are not up yet: it waits for PostgreSQL and
RabbitMQ, saying every few seconds which one it waits for (host and port, never the
URL's password), starts once they answer, and gives up after ``--wait`` seconds with
a clear message and a non-zero exit. The servers "come up" as TCP proxies in front of
the shared ones that the test starts late (nothing listens on their ports before)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbx_cli.testing import Up, base_env
from pbx_kit.testing import Broker
from pbx_kit.testing_faults import TcpProxy, free_port

PASSWORD = "s3cret-pw"


def test_up_gives_up_after_its_wait_with_a_clear_message_and_no_password(
    tmp_path: Path,
) -> None:
    pg_port, amqp_port = free_port(), free_port()
    env = {
        **base_env(tmp_path),
        "PBX_DATABASE_URL": f"postgresql://pbx:{PASSWORD}@127.0.0.1:{pg_port}/pbx",
        "PBX_AMQP_URL": f"amqp://pbx:{PASSWORD}@127.0.0.1:{amqp_port}/",
    }
    up = Up(env, "--wait", "3")
    try:
        code = up.process.wait(60)
    finally:
        up.stop()
    output = up.output
    assert code == 1, output
    assert f"waiting for PostgreSQL at 127.0.0.1:{pg_port}" in output
    assert f"waiting for RabbitMQ at 127.0.0.1:{amqp_port}" in output
    assert f"PostgreSQL at 127.0.0.1:{pg_port}" in output.splitlines()[-1]
    assert "did not answer within 3 s" in output.splitlines()[-1]
    assert PASSWORD not in output
    assert up.healthz() is None


@pytest.mark.infra
def test_up_does_not_wait_for_a_server_that_refuses_it(tmp_path: Path, database_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    missing = urlunsplit(
        urlsplit(database_url)._replace(path=f"/pbx_missing_{uuid.uuid4().hex[:8]}")
    )
    env = {
        **base_env(tmp_path),
        "PBX_DATABASE_URL": missing,
        "PBX_AMQP_URL": "memory://",
    }
    up = Up(env, "--wait", "120")
    try:
        code = up.process.wait(30)
    finally:
        up.stop()
    last = up.output.splitlines()[-1]
    assert code == 1, up.output
    assert "PostgreSQL at" in last
    assert "refused us (InvalidCatalogNameError)" in last


@pytest.fixture
def vhost(amqp_broker: Broker) -> Iterator[str]:
    """A RabbitMQ virtual host of the test's own (all six services' queues go with it)."""
    name = f"pbx_t_{uuid.uuid4().hex[:10]}"
    amqp_broker.rabbitmqctl("add_vhost", name)
    amqp_broker.rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    amqp_broker.rabbitmqctl("delete_vhost", name)


@pytest.mark.infra
@pytest.mark.slow
def test_up_waits_for_postgresql_and_rabbitmq_and_starts_once_they_answer(
    tmp_path: Path, fresh_database_url: str, amqp_url: str, vhost: str
) -> None:
    amqp_in_vhost = amqp_url.rstrip("/") + f"/{vhost}"
    with (
        TcpProxy.in_front_of(fresh_database_url) as postgres,
        TcpProxy.in_front_of(amqp_url) as rabbitmq,
    ):
        env = {
            **base_env(tmp_path),
            "PBX_DATABASE_URL": postgres.url(fresh_database_url),
            "PBX_AMQP_URL": rabbitmq.url(amqp_in_vhost),
        }
        up = Up(env, "--wait", "120")
        try:
            up.wait_for_line(f"waiting for PostgreSQL at 127.0.0.1:{postgres.port}")
            up.wait_for_line(f"waiting for RabbitMQ at 127.0.0.1:{rabbitmq.port}")
            postgres.open()
            time.sleep(6)  # still waiting for RabbitMQ, and saying so again
            assert up.process.poll() is None, up.output
            assert up.healthz() is None
            assert up.output.count("waiting for RabbitMQ") >= 2
            rabbitmq.open()

            deadline = time.monotonic() + 120
            while up.healthz() != 200:
                assert up.process.poll() is None, f"pbx up exited:\n{up.output}"
                assert time.monotonic() < deadline, f"not up in time:\n{up.output}"
                time.sleep(0.5)
            assert "servers_answered" in up.output
        finally:
            up.stop()
        assert up.process.returncode == 0, up.output
