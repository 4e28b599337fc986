"""The one-time tokens identity mails in links (password reset, e-mail confirmation).

A token is ``<aggregate id hex>.<random id>.<secret>``: the secret is an HMAC of the
first two parts with a server key, so only its hash is ever stored, and a token cannot
be made without the key. Each use checks the secret in constant time.
"""

from __future__ import annotations

import base64
import hmac
from uuid import UUID


class LinkTokens:
    """Makes and reads the tokens of one kind of link (one key per kind)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def secret(self, aggregate_id: UUID, random_id: str) -> str:
        """The secret part for one request (its hash is what the aggregate keeps)."""
        digest = hmac.new(self._key, f"{aggregate_id}:{random_id}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")

    def make(self, aggregate_id: UUID, random_id: str) -> str:
        return f"{aggregate_id.hex}.{random_id}.{self.secret(aggregate_id, random_id)}"

    def read(self, token: str) -> tuple[UUID, str, str] | None:
        """(aggregate id, random id, secret) of a token made with this key, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            aggregate_id = UUID(hex=parts[0])
        except ValueError:
            return None
        random_id, secret = parts[1], parts[2]
        if not hmac.compare_digest(secret, self.secret(aggregate_id, random_id)):
            return None
        return aggregate_id, random_id, secret
