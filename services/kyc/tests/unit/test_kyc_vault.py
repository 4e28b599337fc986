"""Document files are encrypted per account; shredding the key makes them unreadable."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from pbx_kyc.vault import DocumentUnreadableError, DocumentVault


def test_a_file_round_trips_and_is_not_stored_in_clear(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, os.urandom(32))
    account, document = uuid.uuid4(), uuid.uuid4()
    content = b"\xff\xd8\xff\xe0 a licence photo \xff\xd9"
    vault.put(account, document, content)
    assert vault.get(account, document) == content
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(stored) == 2  # the wrapped key and the file
    assert all(content not in p.read_bytes() for p in stored)
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in stored)
    assert str(document) in {p.stem for p in stored}  # a server-made name


def test_shredding_the_account_key_makes_its_files_unreadable(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, os.urandom(32))
    account, other = uuid.uuid4(), uuid.uuid4()
    first, second, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    vault.put(account, first, b"one")
    vault.put(account, second, b"two")
    vault.put(other, kept, b"three")
    vault.shred(account)
    for document in (first, second):
        with pytest.raises(DocumentUnreadableError):
            vault.get(account, document)
    assert vault.get(other, kept) == b"three"


def test_a_file_moved_to_another_name_or_tampered_with_does_not_decrypt(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, os.urandom(32))
    account, document, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    vault.put(account, document, b"content")
    path = tmp_path / "files" / str(account) / f"{document}.bin"
    path.rename(path.with_name(f"{other}.bin"))
    with pytest.raises(DocumentUnreadableError):
        vault.get(account, other)
    vault.put(account, document, b"content")
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DocumentUnreadableError):
        vault.get(account, document)


def test_another_key_encryption_key_cannot_read(tmp_path: Path) -> None:
    account, document = uuid.uuid4(), uuid.uuid4()
    DocumentVault(tmp_path, os.urandom(32)).put(account, document, b"content")
    with pytest.raises(DocumentUnreadableError):
        DocumentVault(tmp_path, os.urandom(32)).get(account, document)
