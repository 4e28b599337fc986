"""Where document files live: encrypted, under server-made names, outside anything served.

Each account has its own data key (AES-256-GCM, 32 random bytes), stored only
wrapped by the service's key-encryption key. Every file is encrypted with its
account's data key, bound to its document id (associated data), so a file
moved to another name or account does not decrypt. Deleting an account's data
key (``shred``) makes all its files unreadable at once, wherever copies are.

Layout under the root: ``keys/<account>.key`` (wrapped data key) and
``files/<account>/<document>.bin`` (nonce + ciphertext). Writes are atomic
(temporary file, then rename); files and directories are private (0600/0700).
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class DocumentUnreadableError(Exception):
    """Raised when a file is missing, or its key was shredded, or it was tampered with."""


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class DocumentVault:
    def __init__(self, root: Path, key_encryption_key: bytes) -> None:
        if len(key_encryption_key) != 32:
            raise ValueError("the key-encryption key is 32 bytes")
        self.root = root
        self._kek = AESGCM(key_encryption_key)
        self._lock = threading.Lock()

    def _key_path(self, account_id: UUID) -> Path:
        return self.root / "keys" / f"{account_id}.key"

    def _file_path(self, account_id: UUID, document_id: UUID) -> Path:
        return self.root / "files" / str(account_id) / f"{document_id}.bin"

    def _data_key(self, account_id: UUID, *, create: bool) -> AESGCM:
        path = self._key_path(account_id)
        with self._lock:
            if not path.exists():
                if not create:
                    raise DocumentUnreadableError("no data key for the account")
                nonce = secrets.token_bytes(_NONCE)
                wrapped = self._kek.encrypt(nonce, secrets.token_bytes(32), account_id.bytes)
                _write_private(path, nonce + wrapped)
            blob = path.read_bytes()
        try:
            key = self._kek.decrypt(blob[:_NONCE], blob[_NONCE:], account_id.bytes)
        except InvalidTag:
            raise DocumentUnreadableError("the data key does not unwrap") from None
        return AESGCM(key)

    def put(self, account_id: UUID, document_id: UUID, content: bytes) -> None:
        """Store a document's bytes, encrypted with its account's data key."""
        cipher = self._data_key(account_id, create=True)
        nonce = secrets.token_bytes(_NONCE)
        sealed = cipher.encrypt(nonce, content, document_id.bytes)
        _write_private(self._file_path(account_id, document_id), nonce + sealed)

    def get(self, account_id: UUID, document_id: UUID) -> bytes:
        """A document's bytes (owner and reviewers only: the caller checks)."""
        path = self._file_path(account_id, document_id)
        if not path.exists():
            raise DocumentUnreadableError("no such file")
        cipher = self._data_key(account_id, create=False)
        blob = path.read_bytes()
        try:
            return cipher.decrypt(blob[:_NONCE], blob[_NONCE:], document_id.bytes)
        except InvalidTag:
            raise DocumentUnreadableError("the file does not decrypt") from None

    def delete(self, account_id: UUID, document_id: UUID) -> None:
        """Remove one file (an upload that could not be recorded)."""
        self._file_path(account_id, document_id).unlink(missing_ok=True)

    def shred(self, account_id: UUID) -> None:
        """Delete the account's data key: every file of the account becomes unreadable."""
        with self._lock:
            self._key_path(account_id).unlink(missing_ok=True)
