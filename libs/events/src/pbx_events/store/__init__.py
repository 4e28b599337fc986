"""The event store every service's application stands on (eventsourcing 9.5).

- ``application``: ``ServiceApplication``, an ``Application`` whose recorder is a
  *process* recorder, so a handler's new events and the tracking record of the message
  it handled commit in one transaction (the inbox), and whose mapper stamps each
  recorded domain event with the correlation context; deferred saves.
- ``recorders``: per-message tracking (PostgreSQL and the in-memory twin), bounded
  waits, and a retried write that recognises its own commit.
- ``settings``: ``postgres_env`` (the library's settings for one service's schema),
  ``cipher_env``, ``ensure_schema`` and the factory with bounded pool waits.
"""

from __future__ import annotations

from pbx_events.store.application import (
    META_KEY,
    CausationMapper,
    DateAsISO,
    ServiceApplication,
    deferred_saves,
    event_meta,
)
from pbx_events.store.recorders import (
    CHECKOUT_TIMEOUT_SECONDS,
    STORE_WAIT_SECONDS,
    PerMessagePOPOProcessRecorder,
    PerMessagePostgresProcessRecorder,
)
from pbx_events.store.settings import (
    CONNECT_TIMEOUT_SECONDS,
    RECONNECT_GIVE_UP_SECONDS,
    BoundedPostgresFactory,
    cipher_env,
    ensure_schema,
    new_cipher_key,
    postgres_env,
)

__all__ = [
    "CHECKOUT_TIMEOUT_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "META_KEY",
    "RECONNECT_GIVE_UP_SECONDS",
    "STORE_WAIT_SECONDS",
    "BoundedPostgresFactory",
    "CausationMapper",
    "DateAsISO",
    "PerMessagePOPOProcessRecorder",
    "PerMessagePostgresProcessRecorder",
    "ServiceApplication",
    "cipher_env",
    "deferred_saves",
    "ensure_schema",
    "event_meta",
    "new_cipher_key",
    "postgres_env",
]
