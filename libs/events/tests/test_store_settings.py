"""The store's settings name classes that exist: the topics are read at start, never stored."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment, resolve_topic

from pbx_events.store import (
    BoundedPostgresFactory,
    PerMessagePostgresProcessRecorder,
    cipher_env,
    postgres_env,
)
from pbx_events.store.settings import new_cipher_key


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
    assert cipher_env("k")["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"


# Sealed on 2026-12-07 by the cipher used before, eventsourcing.cipher:AESCipher
# (pycryptodome 4.4.0, eventsourcing 9.5.6): ``AESCipher(Environment(env={"CIPHER_KEY":
# OLD_KEY})).encrypt(OLD_PLAINTEXT)``. Stored events of that time are laid out the same.
OLD_KEY = "mcfBzStu5ygfvUdzlbONhuWH6PSXsFBOs4r0MIUA1I8="
OLD_PLAINTEXT = '{"name":"山田 太郎","screening_phone":"+81312345678"}'.encode()
OLD_SEALED = bytes.fromhex(
    "3da0b17e9258a0eb7e8640d1fdfdb71ff55353da5d8ec5cbf5496fa7d8e2fdd5"
    "1406841a36f1ab96c288443d8b931c62d50a2dbafcbfcbf8ed561a4ee294a670"
    "cc5ec8a82d8371fb0322a157391d96727998f8ee66"
)


def cipher_for(key: str) -> Cipher:
    """The cipher the library builds from ``cipher_env`` (topic resolved, key from env)."""
    env = Environment(env=cipher_env(key))
    cipher_class = resolve_topic(env["CIPHER_TOPIC"])
    cipher = cipher_class(env)
    assert isinstance(cipher, Cipher)
    return cipher


def test_events_sealed_by_the_pycryptodome_cipher_are_read_by_the_cryptography_one() -> None:
    cipher = cipher_for(OLD_KEY)
    assert cipher.decrypt(OLD_SEALED) == OLD_PLAINTEXT
    # same layout both ways: nonce (12) + tag (16) + ciphertext, nothing else
    sealed = cipher.encrypt(OLD_PLAINTEXT)
    assert len(sealed) == len(OLD_SEALED) == 12 + 16 + len(OLD_PLAINTEXT)
    assert sealed != OLD_SEALED and cipher.decrypt(sealed) == OLD_PLAINTEXT


def test_a_damaged_or_foreign_sealed_event_is_refused() -> None:
    cipher = cipher_for(OLD_KEY)
    damaged = bytearray(OLD_SEALED)
    damaged[-1] ^= 0x01
    with pytest.raises(ValueError, match="cipher tag"):
        cipher.decrypt(bytes(damaged))
    with pytest.raises(ValueError, match="cipher tag"):
        cipher_for(new_cipher_key()).decrypt(OLD_SEALED)
