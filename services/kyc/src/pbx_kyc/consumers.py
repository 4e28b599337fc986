"""What kyc consumes: identity's new accounts, each of which gets its review.

Each handler builds a command and calls the application method; the inbox records what
it saved with the message's tracking, exactly once.
"""

from __future__ import annotations

from pbx_events.envelope import Message
from pbx_events.identity import AccountRegistered
from pbx_kit.service import ConsumerRoutes
from pbx_kyc.application import KycService, OpenReview

ACCOUNTS_QUEUE = "kyc.accounts"


def on_account_registered(app: KycService, event: AccountRegistered, _: Message) -> None:
    """A new account: its review opens, with its contractor type and contact facts."""
    app.open_review(
        OpenReview(
            account_id=event.account_id,
            contractor_type=event.contractor_type,
            email_domain_class=event.email_domain_class,
            screening_phone_is_fixed_line=event.screening_phone_is_fixed_line,
        )
    )


ROUTES: ConsumerRoutes[KycService] = {ACCOUNTS_QUEUE: {AccountRegistered: on_account_registered}}
