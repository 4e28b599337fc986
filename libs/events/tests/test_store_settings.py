"""The store's settings name classes that exist: the topics are read at start, never stored."""

from __future__ import annotations

from eventsourcing.utils import resolve_topic

from pbx_events.store import (
    BoundedPostgresFactory,
    PerMessagePostgresProcessRecorder,
    cipher_env,
    postgres_env,
)


def test_the_topics_in_the_settings_resolve_to_the_store_classes() -> None:
    env = postgres_env("postgresql://u:p%40ss@db.example:6543/pbx", "kyc")
    assert resolve_topic(env["PERSISTENCE_MODULE"]) is BoundedPostgresFactory
    assert resolve_topic(env["PROCESS_RECORDER_TOPIC"]) is PerMessagePostgresProcessRecorder
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.example",
        "6543",
        "pbx",
    )
    assert env["POSTGRES_PASSWORD"] == "p@ss"
    assert env["SINGLE_ROW_TRACKING"] == "n"


def test_without_a_key_nothing_is_encrypted() -> None:
    assert cipher_env(None) == {}
    assert cipher_env("k")["CIPHER_TOPIC"] == "eventsourcing.cipher:AESCipher"
