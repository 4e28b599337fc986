"""What a service is built from (``Infrastructure``) and into (``ServiceRuntime``).

A service's ``main.build(infra)`` returns its runtime: the API, start/stop
hooks and the background loops (relay, consumers, mailers). A host runs one
service or all of them in one process (the embedded default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from fastapi import FastAPI

from pbx_events.bus import Bus, BusSettings
from pbx_events.memory import InMemoryBus
from pbx_events.store import cipher_env, ensure_schema, new_cipher_key, postgres_env
from pbx_kit.auth import Caller, JwksKeySource, KeyRing, StaticKeySource, TokenVerifier
from pbx_kit.embedded_pg import EmbeddedPostgres
from pbx_kit.mail import Mailer, mailer_for
from pbx_kit.settings import Settings

log = structlog.get_logger("pbx.runtime")


@dataclass
class ServiceRuntime:
    name: str
    api: FastAPI
    #: long-running coroutines (relay, consumers, mailer), run until cancelled
    loops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass
class Infrastructure:
    settings: Settings
    #: None = the in-memory event store (unit and service tests only)
    database_url: str | None
    bus: Bus
    mailer: Mailer
    cipher_key: str
    embedded: EmbeddedPostgres | None = None
    _key_ring: KeyRing | None = field(default=None, repr=False)

    def eventsourcing_env(self, schema: str) -> dict[str, str]:
        env = cipher_env(self.cipher_key)
        if self.database_url:
            ensure_schema(self.database_url, schema)
            env.update(postgres_env(self.database_url, schema))
        else:
            env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        return env

    def key_ring(self) -> KeyRing:
        """Identity's token signing keys: from settings, or made once under the data dir."""
        if self._key_ring is None:
            pems = self.settings.jwt_private_keys
            if pems is not None:
                self._key_ring = KeyRing.from_pems([pems.get_secret_value()])
            else:
                self._key_ring = KeyRing.load_or_create(self.settings.data_dir / "keys")
        return self._key_ring

    def token_verifier(self, revocation: Callable[[Caller], bool] | None = None) -> TokenVerifier:
        """How a service checks access tokens: identity's JWKS, or the in-process keys."""
        if self.settings.jwks_url:
            return TokenVerifier(JwksKeySource(self.settings.jwks_url), revocation=revocation)
        return TokenVerifier(StaticKeySource(self.key_ring()), revocation=revocation)

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose (e.g. an index HMAC), derived from the cipher key."""
        return hmac.new(
            base64.b64decode(self.cipher_key), purpose.encode(), hashlib.sha256
        ).digest()

    async def close(self) -> None:
        await self.bus.close()
        if self.embedded is not None:
            self.embedded.stop()


def bus_for(settings: Settings) -> Bus:
    bus_settings = BusSettings(exchange=settings.exchange, delivery_limit=settings.delivery_limit)
    if settings.uses_rabbitmq:
        from pbx_events.amqp import AmqpBus

        return AmqpBus(settings.amqp_url, bus_settings)
    if settings.amqp_url.startswith("memory:"):
        return InMemoryBus(bus_settings)
    raise ValueError("PBX_AMQP_URL must be amqp://…, amqps://… or memory://")


def cipher_key_for(settings: Settings) -> str:
    """``PBX_CIPHER_KEY``, or a dev key made once under the data dir (embedded default)."""
    if settings.cipher_key:
        return settings.cipher_key
    path = settings.data_dir / "keys" / "cipher.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_cipher_key())
        log.warning("dev_cipher_key_created", path=str(path))
    return Path(path).read_text().strip()


def open_infrastructure(settings: Settings) -> Infrastructure:
    """Real servers from the settings, or the embedded PostgreSQL when none is given."""
    embedded = None
    database_url = settings.database_url
    if not database_url:
        embedded = EmbeddedPostgres(settings.data_dir)
        database_url = embedded.start()
    return Infrastructure(
        settings=settings,
        database_url=database_url,
        bus=bus_for(settings),
        mailer=mailer_for(settings.smtp_url, settings.data_dir, settings.mail_from),
        cipher_key=cipher_key_for(settings),
        embedded=embedded,
    )
