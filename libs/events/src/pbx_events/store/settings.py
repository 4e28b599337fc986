"""The event store's settings: the library's environment for one service's schema
(``postgres_env``, ``cipher_env``), the schema itself, and the factory whose pool waits
are bounded.

The topics in ``postgres_env`` name this package's classes by module and qualified name;
they are settings read when an application starts, never stored with the events.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg.sql import SQL, Identifier

from pbx_events.store.recorders import CHECKOUT_TIMEOUT_SECONDS, PerMessagePostgresProcessRecorder

#: waiting for a new connection to be made (libpq connect_timeout)
CONNECT_TIMEOUT_SECONDS = 2
#: how long the pool keeps retrying one lost connection in the background before it
#: gives up (the next request asks for a new one): its backoff doubles without a cap,
#: so a long give-up time would leave the pool empty long after PostgreSQL is back
RECONNECT_GIVE_UP_SECONDS = 5.0


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class BoundedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, its pool's waits bounded: a new connection gives
    up after ``CONNECT_TIMEOUT_SECONDS`` (libpq would wait for TCP, minutes on a silent
    host) and a lost one is retried in the background for ``RECONNECT_GIVE_UP_SECONDS``."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        assert isinstance(pool.kwargs, dict)
        pool.kwargs["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        pool.reconnect_timeout = RECONNECT_GIVE_UP_SECONDS


def postgres_env(database_url: str, schema: str, *, pool_size: int = 5) -> dict[str, str]:
    """eventsourcing settings for a service's own schema in the given database."""
    url = urlsplit(database_url)
    host = url.hostname or ""
    if not host:
        # a unix socket given as ?host=/path (libpq style)
        from urllib.parse import parse_qs

        host = parse_qs(url.query).get("host", ["127.0.0.1"])[0]
    return {
        "PERSISTENCE_MODULE": _topic(BoundedPostgresFactory),
        "POSTGRES_DBNAME": (url.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        # no ping on every checkout (a round trip each): the library retries
        # statements on a dropped connection instead
        "POSTGRES_PRE_PING": "n",
        # the pool checkout timeout (despite its name); connects and retries are
        # bounded by BoundedPostgresFactory and the recorder
        "POSTGRES_CONNECT_TIMEOUT": str(CHECKOUT_TIMEOUT_SECONDS),
        # per-message inbox tracking, never a maximum per upstream
        "SINGLE_ROW_TRACKING": "n",
        # keep the table lock that keeps notification ids in commit order:
        # the relay reads by position and must never pass over a late commit
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "PROCESS_RECORDER_TOPIC": _topic(PerMessagePostgresProcessRecorder),
    }


#: the library's AES-GCM cipher on the ``cryptography`` package. Its ciphertext is laid out
#: as the pycryptodome one's (``eventsourcing.cipher:AESCipher``, used until 2026-12): a
#: 12-byte nonce, the 16-byte tag, then the encrypted bytes, no associated data; so events
#: sealed before stay readable with the same key (test_store_settings keeps a sample)
CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


def cipher_env(key: str | None) -> dict[str, str]:
    """AES-GCM encryption of every stored event's state (personal data at rest)."""
    if not key:
        return {}
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": key}


def new_cipher_key() -> str:
    from eventsourcing.cryptography import AESCipher

    return str(AESCipher.create_key(num_bytes=32))


def ensure_schema(database_url: str, schema: str) -> None:
    """Create the service's schema (eventsourcing creates tables, not schemas)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(schema)))
