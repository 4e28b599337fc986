"""The Account aggregate and its uniqueness indexes.

An account's personal data lives only in its events, which the event store
encrypts at rest (AES-GCM). Uniqueness across accounts (e-mail, login ID)
goes through keyed aggregates whose ids are derived from the value and are
saved in the same transaction as the account: a second claim of the same key
conflicts on the event store's (originator_id, version) key, even when two
registrations race.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_INDEX_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/identity/index")


class Account(Aggregate):
    """A customer's contract: contractor info, contacts, shipping address, login."""

    @event("Registered")
    def __init__(
        self,
        login_id: str,
        contractor_type: str,
        contractor: dict[str, Any],
        representative: dict[str, Any] | None,
        usage_contact: dict[str, Any] | None,
        billing_contact: dict[str, Any] | None,
        shipping_address: dict[str, Any] | None,
        agency_code: str | None,
        payment_method: str,
        terms: dict[str, str],
        email_domain_class: str,
        password_hash: str,
    ) -> None:
        self.login_id = login_id
        self.contractor_type = contractor_type
        self.contractor = contractor
        self.representative = representative
        self.usage_contact = usage_contact
        self.billing_contact = billing_contact
        self.shipping_address = shipping_address
        self.agency_code = agency_code
        self.payment_method = payment_method
        self.terms = terms
        self.email_domain_class = email_domain_class
        self.password_hash = password_hash
        self.status = "active"

    @property
    def email(self) -> str:
        return str(self.contractor["email"])


#: the event class ``@event("Registered")`` made (mypy cannot see decorator-made classes)
AccountRegisteredEvent: Any = Account.Registered  # type: ignore[attr-defined]


class EmailClaim(Aggregate):
    """Claims one e-mail address for one account (id derived from a keyed hash of it)."""

    @staticmethod
    def create_id(email_key: str) -> UUID:
        return uuid5(_INDEX_NAMESPACE, f"email:{email_key}")

    @event("Claimed")
    def __init__(self, email_key: str, account_id: UUID) -> None:
        self.account_id = account_id


class LoginIdClaim(Aggregate):
    """Claims one login ID for one account; also how login finds the account."""

    @staticmethod
    def create_id(login_id: str) -> UUID:
        return uuid5(_INDEX_NAMESPACE, f"login:{login_id}")

    @event("Claimed")
    def __init__(self, login_id: str, account_id: UUID) -> None:
        self.account_id = account_id
