"""Fault injection for tests on real servers, without stopping the shared ones.

- ``TcpProxy``: a TCP proxy on 127.0.0.1 in front of PostgreSQL (over TCP or its unix
  socket, as the tests' embedded server listens) or RabbitMQ that a test opens late,
  cuts (connections dropped, new ones refused) or stalls (connections accepted, nothing
  forwarded), and restores.
- ``breaking_write_connections``: an application's next writes lose their
  connection, after their COMMIT went through (its acknowledgement is lost) or before.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; runs its own event loop in a thread, so
    that synchronous code in the test's thread cannot starve it. Not listening until
    ``open()``."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        #: a host starting with ``/`` is a unix socket directory (libpq style)
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = self._run(self._make_event())

    @classmethod
    def in_front_of(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        default = 5672 if parts.scheme.startswith("amqp") else 5432
        # a unix socket directory given as ?host=/path (libpq style)
        socket_dir = dict(parse_qsl(parts.query)).get("host", "")
        host = parts.hostname or (socket_dir if socket_dir.startswith("/") else "127.0.0.1")
        return cls(host, parts.port or default)

    def url(self, url: str) -> str:
        """``url`` pointed at this proxy (user, password, path and the query but for a
        unix socket's ``host`` kept)."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")])
        return urlunsplit(parts._replace(netloc=netloc, query=query))

    # -- what a test does --------------------------------------------------------------

    def open(self) -> None:
        """Listen and forward (again, after ``cut`` or ``stall``)."""
        self._run(self._open())

    def cut(self) -> None:
        """Drop every connection and refuse new ones (the server is down)."""
        self._run(self._cut())

    def stall(self) -> None:
        """Keep connections and accept new ones, but forward nothing (a hung server)."""
        self._run(self._stall())

    def close(self) -> None:
        self._run(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside its loop ---------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _make_event(self) -> asyncio.Event:
        return asyncio.Event()

    async def _open(self) -> None:
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(
                self._client, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _stall(self) -> None:
        self._flowing.clear()
        if self._server is None:
            await self._open()
            self._flowing.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            host, port = self.target
            if host.startswith("/"):
                up_reader, up_writer = await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
            else:
                up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            w.transport.abort()
            self._writers.discard(w)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


@contextlib.contextmanager
def breaking_write_connections(
    application: Any, *, after_commit: bool, times: int = 1
) -> Iterator[list[int]]:
    """The application's next ``times`` writes lose their connection: after their COMMIT
    went through but before it was acknowledged (``after_commit``: the server's answer
    is lost), or before they wrote anything. psycopg raises ``OperationalError`` to the
    recorder either way, as on a real broken link. Yields the list of broken writes."""
    import psycopg

    datastore = application.recorder.datastore
    original = datastore.get_connection
    broken: list[int] = []

    def breaking(conn: Any) -> None:
        broken.append(1)
        conn.close()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    @contextlib.contextmanager
    def get_connection() -> Iterator[Any]:
        with original() as conn:
            wrote: list[bool] = []
            transaction = conn.transaction

            def watched_transaction(*args: Any, **kwargs: Any) -> Any:
                # the library writes inside a transaction, and reads without one
                if not after_commit and len(broken) < times:
                    breaking(conn)
                wrote.append(True)
                return transaction(*args, **kwargs)

            conn.transaction = watched_transaction
            try:
                yield conn
            finally:
                del conn.transaction
            # the block is over: its transaction has committed
            if after_commit and wrote and len(broken) < times:
                breaking(conn)

    datastore.get_connection = get_connection
    try:
        yield broken
    finally:
        datastore.get_connection = original
