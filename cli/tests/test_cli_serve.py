"""``python -m pbx_cli.serve <service>``, a container's entry point: one service alone, on
real servers only (it refuses the embedded default and the in-process bus, exit 2, saying
why), at the root path and under its prefix alike, its links carrying the prefix; started
on the real servers it becomes ready, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from pbx_cli.serve import main
from pbx_cli.services import SERVICES
from pbx_cli.up import UnderPrefix
from pbx_kit.app import create_app
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import delete_exchange
from pbx_kit.testing_faults import free_port

REAL = "postgresql://pbx@db.invalid:5432/pbx"


def serve_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *args: str,
) -> tuple[int, str]:
    for name in ("PBX_DATABASE_URL", "PBX_AMQP_URL", "PBX_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(list(args))
    return code, " ".join(capsys.readouterr().err.split())


def test_without_a_database_url_it_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = serve_refused(monkeypatch, capsys, {"PBX_AMQP_URL": "amqp://mq.invalid/"}, "kyc")
    assert code == 2
    assert err.startswith("python -m pbx_cli.serve kyc: PBX_DATABASE_URL is not set:"), err
    assert "the embedded one is for ./pbx up only" in err


@pytest.mark.parametrize("amqp", [None, "memory://"], ids=["unset", "memory"])
def test_without_rabbitmq_it_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], amqp: str | None
) -> None:
    env = {"PBX_DATABASE_URL": REAL} | ({"PBX_AMQP_URL": amqp} if amqp else {})
    code, err = serve_refused(monkeypatch, capsys, env, "wallet")
    assert code == 2
    assert "PBX_AMQP_URL is 'memory://': a service served alone needs RabbitMQ" in err, err
    assert "the in-process bus reaches no other process" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "no service named; give one of identity, kyc, catalog, cart, wallet, fulfillment"),
        (("billing",), "unknown service 'billing'; give one of identity, kyc,"),
        (("cart", "--root-path", "cart"), "--root-path must start with / (or be empty)"),
    ],
    ids=["none", "unknown", "root-path"],
)
def test_a_service_it_does_not_have_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    expected: str,
) -> None:
    env = {"PBX_DATABASE_URL": REAL, "PBX_AMQP_URL": "amqp://mq.invalid/"}
    code, err = serve_refused(monkeypatch, capsys, env, *args)
    assert code == 2
    assert expected in err, err


def test_the_service_may_come_from_pbx_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the image sets PBX_SERVICE (its build's SERVICE): no argument needed
    code, err = serve_refused(monkeypatch, capsys, {"PBX_SERVICE": "catalog"})
    assert code == 2
    assert err.startswith("python -m pbx_cli.serve catalog: PBX_DATABASE_URL is not set"), err


def test_help_names_every_option_and_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"one of {', '.join(SERVICES)} (default: PBX_SERVICE)" in text
    assert "address to listen on (default: 0.0.0.0)" in text
    assert "TCP port to listen on (default: 8000)" in text
    assert "(default: /<service>; '' when clients reach the service directly)" in text
    assert "PostgreSQL and RabbitMQ to answer (default: 300)" in text


@pytest.mark.parametrize("path", ["/docs", "/identity/docs"], ids=["stripped", "prefixed"])
async def test_reached_with_or_without_its_prefix_its_links_carry_the_prefix(path: str) -> None:
    app = UnderPrefix(create_app("identity", title="Identity"), "/identity")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://edge"
    ) as client:
        page = await client.get(path)
        assert page.status_code == 200
        links = re.findall(r"""(?:src|href)="([^"]+)"|url: ?'([^']+)'""", page.text)
        urls = [a or b for a, b in links]
        assert "/identity/openapi.json" in urls
        assert "/identity/static-docs/swagger-ui-bundle.js" in urls
        for url in urls:  # each link works as the proxy passes it, and stripped too
            assert (await client.get(url)).status_code == 200, url
            assert (await client.get(url.removeprefix("/identity"))).status_code == 200, url
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/identity/healthz")).status_code == 200
        assert (await client.get("/identityx/healthz")).status_code == 404


@pytest.mark.slow
def test_on_the_real_servers_it_becomes_ready_and_sigterm_stops_it(
    tmp_path: Path, fresh_database_url: str, amqp_url: str
) -> None:
    port = free_port()
    # an exchange and queues of the test's own on the shared broker (as the stack fixture)
    exchange = f"test.{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "PBX_DATABASE_URL": fresh_database_url,
        "PBX_AMQP_URL": amqp_url,
        "PBX_EXCHANGE": exchange,
        "PBX_QUEUE_PREFIX": f"{exchange}.",
        "PBX_DATA_DIR": str(tmp_path),
        "PBX_SERVICE": "catalog",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pbx_cli.serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "not ready in time:\n" + "".join(lines)
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        # the one service, at its root and under its prefix, its links under the prefix
        assert httpx.get(f"{base}/catalog/readyz", timeout=5).status_code == 200
        products = httpx.get(f"{base}/products", timeout=10).json()["items"]
        assert products and products[0]["image_url"].startswith("/catalog/products/")
        assert httpx.get(base + products[0]["image_url"], timeout=5).status_code == 200
        assert httpx.get(f"{base}/auth/token", timeout=5).status_code == 404  # no identity
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(5)
        # the catalog consumes no event but the ended sessions
        queue = sessions_queue("catalog", f"{exchange}.")
        asyncio.run(delete_exchange(amqp_url, exchange, (queue,)))
    output = "".join(lines)
    assert '"listening"' in output, output
    assert "services_stopped" in output, output
