"""Maps identity's domain events to the integration events the relay publishes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from pbx_events.contracts import IntegrationEvent
from pbx_events.identity import (
    AccountInfoChanged,
    AccountRegistered,
    Address,
    CircleAdded,
    CircleCancelled,
    SessionsEnded,
    ShippingAddressChanged,
)
from pbx_identity.application import IdentityService
from pbx_identity.domain.account import Account
from pbx_identity.domain.address import Address as DomainAddress
from pbx_identity.domain.staff import StaffMember
from pbx_kit.jp.phone import is_fixed_line_e164

#: why the sessions ended, as SessionsEnded says it (PasswordChanged.reason → reason)
_PASSWORD_REASONS = {"reset": "password_reset"}


def _address(fields: dict[str, Any]) -> Address:
    """The event's address as the contract carries it (the same nine fields)."""
    return Address(**DomainAddress.of(fields).as_dict())


def to_integration(domain_event: Any) -> Sequence[IntegrationEvent]:
    account_id: UUID = domain_event.originator_id
    if isinstance(domain_event, Account.Registered):
        own = domain_event.shipping_address
        address = own if own is not None else domain_event.contractor
        return [
            AccountRegistered(
                account_id=account_id,
                login_id=domain_event.login_id,
                contractor_type=domain_event.contractor_type,
                email_domain_class=domain_event.email_domain_class,
                screening_phone_is_fixed_line=is_fixed_line_e164(
                    domain_event.contractor["phone_e164"]
                ),
                registered_at=domain_event.timestamp,
            ),
            ShippingAddressChanged(
                account_id=account_id,
                same_as_contractor=own is None,
                address=_address(address),
                changed_at=domain_event.timestamp,
            ),
        ]
    if isinstance(domain_event, Account.InfoChanged):
        return [
            AccountInfoChanged(
                account_id=account_id,
                contractor_type=domain_event.contractor_type,
                email_domain_class=domain_event.email_domain_class,
                changed_at=domain_event.timestamp,
            )
        ]
    if isinstance(domain_event, Account.ShippingAddressChanged):
        return [
            ShippingAddressChanged(
                account_id=account_id,
                same_as_contractor=domain_event.shipping_address is None,
                address=_address(domain_event.effective_address),
                changed_at=domain_event.timestamp,
            )
        ]
    if isinstance(domain_event, Account.CircleAdded):
        return [
            CircleAdded(
                account_id=account_id,
                circle_id=UUID(domain_event.circle_id),
                applied_on=date.fromisoformat(domain_event.applied_on),
            )
        ]
    if isinstance(domain_event, Account.CircleCancelled):
        return [
            CircleCancelled(
                account_id=account_id,
                circle_id=UUID(domain_event.circle_id),
                cancelled_on=date.fromisoformat(domain_event.cancelled_on),
            )
        ]
    # the rest (password hashes, low-balance and screening decision notices…) stays
    # inside identity
    return []


class IdentityMapping:
    """The relay's mapping: ``to_integration``, and ``SessionsEnded`` for the events that
    end every session (it carries the account's token version after the event, read from
    the account at that version, so re-publishing sends the same message)."""

    def __init__(self, app: IdentityService) -> None:
        self.app = app

    def __call__(self, domain_event: Any) -> Sequence[IntegrationEvent]:
        if isinstance(
            domain_event,
            (Account.PasswordChanged, Account.SessionsEnded, StaffMember.SessionsEnded),
        ):
            return [self.sessions_ended(domain_event)]
        return to_integration(domain_event)

    def sessions_ended(self, domain_event: Any) -> SessionsEnded:
        account = self.app.repository.get(
            domain_event.originator_id, version=domain_event.originator_version
        )
        if isinstance(domain_event, Account.PasswordChanged):
            reason = _PASSWORD_REASONS.get(domain_event.reason, "password_changed")
        else:
            reason = "logout_everywhere"
        return SessionsEnded(
            account_id=domain_event.originator_id,
            token_version=account.token_version,
            reason=reason,
            ended_at=domain_event.timestamp,
        )
