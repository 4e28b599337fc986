"""Waiting at start for the servers the settings name (``./pbx up`` on real servers).

Once running, the services ride out an outage (requests answer 503, the loops
retry); at start there is nothing to ride on yet, so ``wait_for_servers`` tries
PostgreSQL (``PBX_DATABASE_URL``) and RabbitMQ (``PBX_AMQP_URL``) until both
answer, logging every few seconds which one it waits for (host and port only,
never the URL's password), and gives up after a bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import structlog

from pbx_kit.settings import Settings

log = structlog.get_logger("pbx.startup")

#: how long ``./pbx up`` waits for its servers by default (``--wait``)
DEFAULT_WAIT_SECONDS = 300.0
#: how long one try may take (a server that accepts but does not answer)
PROBE_TIMEOUT_SECONDS = 3.0


class ServerUnreachableError(Exception):
    """Raised when a server named by the settings did not answer within the wait."""


class ServerRefusedError(Exception):
    """Raised when a server answered but refused us (login, database or vhost): waiting
    would not help."""


@dataclass(frozen=True)
class Server:
    name: str
    #: ``host:port`` (what is safe to print)
    address: str
    #: one try: returns when the server answered, raises why not
    probe: Callable[[], Awaitable[None]]
    #: the URL's password, kept out of every message
    secret: str = ""

    def redacted(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text


def address_of(url: str, default_port: int) -> str:
    """``host:port`` of a URL, without user or password (a libpq ``?host=`` socket too)."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    try:
        port = parts.port or default_port
    except ValueError:
        port = default_port
    return f"{host}:{port}"


def _password(url: str) -> str:
    from urllib.parse import unquote

    return unquote(urlsplit(url).password or "")


def _postgres(url: str) -> Server:
    async def probe() -> None:
        import asyncpg

        try:
            conn = await asyncpg.connect(url, timeout=PROBE_TIMEOUT_SECONDS)
        except (
            asyncpg.InvalidAuthorizationSpecificationError,
            asyncpg.InvalidCatalogNameError,
        ) as exc:
            raise ServerRefusedError(type(exc).__name__) from None
        try:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), PROBE_TIMEOUT_SECONDS)
        finally:
            await asyncio.wait_for(conn.close(), PROBE_TIMEOUT_SECONDS)

    return Server("PostgreSQL", address_of(url, 5432), probe, _password(url))


def _rabbitmq(url: str) -> Server:
    async def probe() -> None:
        import aio_pika
        from aiormq.exceptions import ConnectionNotAllowed, ProbableAuthenticationError

        # aiormq logs every refused try as an error: the wait says it once in a while
        quiet = logging.getLogger("aiormq.connection")
        level, quiet.level = quiet.level, logging.CRITICAL
        try:
            connection = await aio_pika.connect(url, timeout=PROBE_TIMEOUT_SECONDS)
        except (ProbableAuthenticationError, ConnectionNotAllowed) as exc:
            raise ServerRefusedError(type(exc).__name__) from None
        finally:
            quiet.setLevel(level)
        await asyncio.wait_for(connection.close(), PROBE_TIMEOUT_SECONDS)

    return Server("RabbitMQ", address_of(url, 5672), probe, _password(url))


def servers_of(settings: Settings) -> list[Server]:
    """The servers the settings name (none for the embedded default)."""
    servers = []
    if settings.database_url:
        servers.append(_postgres(settings.database_url))
    if settings.uses_rabbitmq:
        servers.append(_rabbitmq(settings.amqp_url))
    return servers


async def _answers(server: Server) -> str | None:
    """None when the server answered, else why not (an error type, never a URL)."""
    try:
        await asyncio.wait_for(server.probe(), PROBE_TIMEOUT_SECONDS * 2)
    except ServerRefusedError as exc:
        raise ServerRefusedError(
            f"{server.name} at {server.address} refused us ({exc}): check the user, password "
            "and database or virtual host in PBX_DATABASE_URL / PBX_AMQP_URL"
        ) from None
    except TimeoutError:
        return "no answer"
    except OSError as exc:  # refused, reset, unreachable, unknown host
        return server.redacted(exc.strerror or str(exc) or type(exc).__name__)
    except Exception as exc:  # e.g. "the database system is starting up"
        return type(exc).__name__
    return None


async def wait_for_servers(
    servers: list[Server], within: float, *, say_every: float = 5.0, pause: float = 0.5
) -> None:
    """Return once every server answered; log which one is awaited every ``say_every``
    seconds; raise ``ServerUnreachableError`` after ``within`` seconds."""
    started = time.monotonic()
    said_at: float | None = None
    waiting = list(servers)
    while True:
        reasons = {s.name: await _answers(s) for s in waiting}
        waiting = [s for s in waiting if reasons[s.name] is not None]
        if not waiting:
            if said_at is not None:
                log.info("servers_answered", servers=[s.name for s in servers])
            return
        waited = time.monotonic() - started
        if waited >= within:
            names = ", ".join(f"{s.name} at {s.address} ({reasons[s.name]})" for s in waiting)
            raise ServerUnreachableError(
                f"{names} did not answer within {within:g} s: is it running, and are "
                "PBX_DATABASE_URL / PBX_AMQP_URL right? (--wait SECONDS waits longer)"
            )
        if said_at is None or time.monotonic() - said_at >= say_every:
            said_at = time.monotonic()
            for s in waiting:
                log.warning(
                    "waiting_for_server",
                    message=f"waiting for {s.name} at {s.address} ({reasons[s.name]}), "
                    f"{waited:.0f} s of {within:g} s",
                    server=s.name,
                    address=s.address,
                    reason=reasons[s.name],
                )
        await asyncio.sleep(min(pause, max(0.0, within - waited)))
