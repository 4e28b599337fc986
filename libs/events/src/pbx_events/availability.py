"""Which errors say "a server is unreachable right now", as opposed to "the code is wrong".

An HTTP request that meets one answers 503 with ``Retry-After`` (``pbx_kit.problems``);
a consumer that meets one keeps its message and tries again until the server is
back (``pbx_events.bus.handle_riding_out``), instead of spending the message's
delivery limit on an outage. Anything not listed here stays a bug (500, dead letter).
"""

from __future__ import annotations

import socket

import psycopg
from eventsourcing import persistence


class NotYetKnownError(Exception):
    """A message needs a fact its service has not received yet: it came by another queue,
    which is behind (a checkout that names a screening approved a moment ago). Held and
    tried again like an outage, never refused on a stale copy; the handler decides how long
    it waits before it decides on what it has."""


_UNAVAILABLE: tuple[type[BaseException], ...] = (
    NotYetKnownError,
    # the event store's wrappers of psycopg's connection errors (pool timeout included)
    persistence.OperationalError,
    persistence.InterfaceError,
    # psycopg itself: a lost or refused connection, a pool timeout (PoolTimeout), a
    # server shutting down or not yet accepting connections (57P01, 57P03)
    psycopg.OperationalError,
    psycopg.InterfaceError,
    # refused, reset or aborted sockets (aio-pika's AMQPConnectionError is one too),
    # a host name that does not resolve, and a wait that ran out (pool acquire, connect)
    ConnectionError,
    socket.gaierror,
    TimeoutError,
)

try:  # asyncpg (read models, edge tables) when installed; pbx_events does not need it
    from asyncpg import exceptions as _asyncpg

    _UNAVAILABLE += (
        # class 08: the connection failed or does not exist any more
        _asyncpg.PostgresConnectionError,
        # class 57: shutdown, crash, cannot connect now (and statement timeouts)
        _asyncpg.OperatorInterventionError,
        # class 53: too many connections, out of memory or disk
        _asyncpg.InsufficientResourcesError,
    )
except ImportError:  # pragma: no cover - asyncpg is in the workspace
    pass


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says PostgreSQL or RabbitMQ could not be reached in time."""
    return isinstance(exc, _UNAVAILABLE)
