"""Maps identity's domain events to the integration events the relay publishes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_events.contracts import IntegrationEvent
from pbx_events.identity import AccountRegistered
from pbx_identity.domain.account import AccountRegisteredEvent


def to_integration(domain_event: Any) -> Sequence[IntegrationEvent]:
    if isinstance(domain_event, AccountRegisteredEvent):
        return [
            AccountRegistered(
                account_id=domain_event.originator_id,
                login_id=domain_event.login_id,
                contractor_type=domain_event.contractor_type,
                email_domain_class=domain_event.email_domain_class,
                # the screening number passed the fixed-line rule at registration
                screening_phone_is_fixed_line=True,
                registered_at=domain_event.timestamp,
            )
        ]
    return []
