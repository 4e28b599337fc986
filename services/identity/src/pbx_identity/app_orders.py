"""What fulfillment's orders change at identity: the services in the account's circles
(ServiceActivated / ServiceCancelled) and the order mails to note (the confirmation, the
dispatch, a refused checkout; the mailer sends them).

Mixed into ``IdentityService`` (application.py), the only load/save site.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from pbx_identity.app_account import JST
from pbx_identity.commands import (
    ActivateCircleService,
    CancelCircleService,
    RequestCheckoutRejectionNotice,
    RequestDispatchNotice,
    RequestOrderConfirmationNotice,
)
from pbx_identity.domain.account import Account


def japan_date(at: datetime) -> str:
    """The day in Japan of an instant, as the account stores dates (ISO)."""
    return at.astimezone(JST).date().isoformat()


class OrderUseCases:
    # provided by IdentityService (AccountUseCases) and Application
    my_account: Callable[[UUID], Account]
    save: Callable[..., Any]

    def activate_circle_service(self, cmd: ActivateCircleService) -> list[Account]:
        """Add a service fulfillment activated to its circle (利用中); again: no change."""
        account = self.my_account(cmd.account_id)
        account.activate_service(
            str(cmd.circle_id),
            str(cmd.service_id),
            cmd.kind,
            cmd.sku,
            cmd.name,
            cmd.phone_number,
            japan_date(cmd.activated_at),
        )
        self.save(account)
        return [account]

    def cancel_circle_service(self, cmd: CancelCircleService) -> list[Account]:
        """Mark a service of a circle cancelled (解約済); again: no change."""
        account = self.my_account(cmd.account_id)
        account.cancel_service(
            str(cmd.circle_id), str(cmd.service_id), japan_date(cmd.cancelled_at)
        )
        self.save(account)
        return [account]

    def request_order_confirmation_notice(
        self, cmd: RequestOrderConfirmationNotice
    ) -> list[Account]:
        """Note that the customer is to get the order confirmation (the mailer sends it);
        the same message is noted once."""
        account = self.my_account(cmd.account_id)
        account.request_order_confirmation_notice(
            cmd.notice_id,
            str(cmd.order_id),
            cmd.lines,
            cmd.subtotal,
            cmd.tax,
            cmd.total,
            cmd.shipping_address,
            cmd.placed_at,
        )
        self.save(account)
        return [account]

    def request_dispatch_notice(self, cmd: RequestDispatchNotice) -> list[Account]:
        """Note that the customer is to hear the order was dispatched (carrier, tracking
        number); the same message is noted once."""
        account = self.my_account(cmd.account_id)
        account.request_dispatch_notice(
            cmd.notice_id, str(cmd.order_id), cmd.carrier, cmd.tracking_number, cmd.dispatched_at
        )
        self.save(account)
        return [account]

    def request_checkout_rejection_notice(
        self, cmd: RequestCheckoutRejectionNotice
    ) -> list[Account]:
        """Note that the customer is to hear why the checkout was refused; the same message
        is noted once."""
        account = self.my_account(cmd.account_id)
        account.request_checkout_rejection_notice(
            cmd.notice_id, str(cmd.checkout_id), cmd.reason, cmd.detail, cmd.rejected_at
        )
        self.save(account)
        return [account]
