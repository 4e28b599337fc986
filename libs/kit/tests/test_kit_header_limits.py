"""Too many request headers, or too many header bytes, get 431 problem+json from every
service, through a real HTTP server (uvicorn, as ``./pbx up`` runs it)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn

from pbx_kit.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server() -> AsyncIterator[int]:
    port = free_port()
    app = create_app("edge", title="edge")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
    yield port
    running.should_exit = True
    await asyncio.wait_for(task, 10)


async def exchange(port: int, headers: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: pbx\r\n" + headers + b"Connection: close\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.lower().split(": ", 1) for line in lines[1:])
    return status, fields, body


def assert_431(status: int, fields: dict[str, str], body: bytes) -> None:
    assert status == 431
    assert fields["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["code"] == "request_header_fields_too_large"
    assert "リクエストヘッダー" in problem["detail"]


async def test_two_thousand_headers_get_431(server: int) -> None:
    assert_431(*await exchange(server, b"".join(b"X-H%d: v\r\n" % i for i in range(2000))))


async def test_a_header_of_several_megabytes_gets_431(server: int) -> None:
    assert_431(*await exchange(server, b"X-Big: " + b"a" * (4 * 1024 * 1024) + b"\r\n"))


async def test_ordinary_headers_pass(server: int) -> None:
    status, _, body = await exchange(server, b"X-Some: " + b"a" * 4000 + b"\r\n")
    assert status == 200
    assert json.loads(body)["status"] == "ok"
