"""The identity application: the only place accounts are loaded and saved."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from pbx_events.store import ServiceApplication
from pbx_identity.app_account import AccountUseCases
from pbx_identity.app_auth import AuthUseCases
from pbx_identity.app_orders import OrderUseCases
from pbx_identity.commands import RegisterAccount
from pbx_identity.domain.account import Account, EmailClaim, LoginIdClaim
from pbx_identity.errors import EmailTakenError, LoginIdExhaustedError
from pbx_identity.link_tokens import LinkTokens
from pbx_identity.tokens import TokenIssuer
from pbx_identity.validation.email import email_domain_class

LOGIN_ID_PREFIX = "PBX"
LOGIN_ID_DIGITS = 8
_LOGIN_ID_TRIES = 20


@dataclass(frozen=True)
class Registered:
    account_id: UUID
    login_id: str


def new_login_id() -> str:
    """A login ID like ``PBX48213907``: easy to read out on the phone, not guessable in order."""
    return LOGIN_ID_PREFIX + "".join(secrets.choice("0123456789") for _ in range(LOGIN_ID_DIGITS))


def _asdict(value: Any) -> Any:
    return dataclasses.asdict(value) if value is not None else None


class IdentityService(AuthUseCases, AccountUseCases, OrderUseCases, ServiceApplication):
    name = "identity"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        index_key: bytes,
        reset_key: bytes,
        token_issuer: TokenIssuer,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        super().__init__(env)
        #: keys the e-mail index, so the index does not reveal addresses
        self._index_key = index_key
        #: password-reset tokens, so only their hashes are stored
        self.reset_links = LinkTokens(reset_key)
        #: e-mail confirmation tokens: a key of its own (from the reset key), so a token of
        #: one kind never passes as the other
        self.email_change_links = LinkTokens(
            hmac.new(reset_key, b"identity.email-change", "sha256").digest()
        )
        self.token_issuer = token_issuer
        self.password_hasher = password_hasher or PasswordHasher()
        # an unknown login ID is checked against this, so it costs what a real one does
        self._dummy_hash = self.password_hasher.hash(secrets.token_urlsafe(16))

    def email_key(self, email: str) -> str:
        return hmac.new(self._index_key, email.lower().encode(), hashlib.sha256).hexdigest()

    def register_account(self, cmd: RegisterAccount) -> Registered:
        """Register an account with a system-issued login ID; refuses a taken e-mail."""
        data = cmd.registration
        email_key = self.email_key(data.contractor.email)
        existing_claim = self._claim(email_key)
        if existing_claim is not None and existing_claim.account_id is not None:
            raise EmailTakenError
        password_hash = self.password_hasher.hash(data.password)
        for _ in range(_LOGIN_ID_TRIES):
            login_id = new_login_id()
            account = Account(
                login_id=login_id,
                contractor_type=data.contractor_type,
                contractor=dataclasses.asdict(data.contractor),
                representative=_asdict(data.representative),
                usage_contact=_asdict(data.usage_contact),
                billing_contact=_asdict(data.billing_contact),
                shipping_address=_asdict(data.shipping_address),
                agency_code=data.agency_code,
                payment_method=data.payment_method,
                terms=dataclasses.asdict(data.terms),
                email_domain_class=email_domain_class(data.contractor.email),
                password_hash=password_hash,
            )
            if existing_claim is None:
                email_claim = EmailClaim(email_key=email_key, account_id=account.id)
            else:  # an address another account gave up
                email_claim = existing_claim
                email_claim.claim(account.id)
            try:
                self.save(
                    account, email_claim, LoginIdClaim(login_id=login_id, account_id=account.id)
                )
            except IntegrityError:
                claim = self._claim(email_key)
                if claim is not None and claim.account_id is not None:
                    raise EmailTakenError from None
                existing_claim = claim
                continue  # the login ID was taken meanwhile: draw another
            return Registered(account_id=account.id, login_id=login_id)
        raise LoginIdExhaustedError

    def get_account(self, account_id: UUID) -> Account:
        account: Account = self.repository.get(account_id)
        assert isinstance(account, Account)
        return account

    def _claim(self, email_key: str) -> EmailClaim | None:
        try:
            claim: EmailClaim = self.repository.get(EmailClaim.create_id(email_key))
        except AggregateNotFoundError:
            return None
        return claim
