"""The Account aggregate and its uniqueness indexes.

An account's personal data lives only in its events, which the event store
encrypts at rest (AES-GCM). Uniqueness across accounts (e-mail, login ID)
goes through keyed aggregates whose ids are derived from the value and are
saved in the same transaction as the account: a second claim of the same key
conflicts on the event store's (originator_id, version) key, even when two
registrations race.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pbx_identity.domain.address import Address
from pbx_identity.domain.email_change import (
    CANCEL_REASONS,
    EmailChangeAlreadyConfirmedError,
    InvalidEmailChangeTokenError,
    PendingEmailChange,
)
from pbx_kit.errors import ConflictError, FieldProblem, NotFoundError

_INDEX_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/identity/index")


class EmailTakenError(ConflictError):
    """Raised when the e-mail address already belongs to an account."""

    code = "email_taken"
    message_ja = "このメールアドレスは既に登録されています。"

    def __init__(self) -> None:
        super().__init__(
            errors=[FieldProblem("contractor.email", self.code, self.message_ja)],
        )


class CircleNotFoundError(NotFoundError):
    """Raised when the caller's account has no such circle."""

    code = "circle_not_found"
    message_ja = "指定されたサークルが見つかりません。"


class ServiceNotFoundError(NotFoundError):
    """Raised when the circle has no such service (a unique, a phone number, a rental)."""

    code = "service_not_found"
    message_ja = "指定されたサービスが見つかりません。"


class Account(Aggregate):
    """A customer's contract: contractor info, contacts, shipping address, login."""

    class Registered(Aggregate.Created):
        login_id: str
        contractor_type: str
        contractor: dict[str, Any]
        representative: dict[str, Any] | None
        usage_contact: dict[str, Any] | None
        billing_contact: dict[str, Any] | None
        shipping_address: dict[str, Any] | None
        agency_code: str | None
        payment_method: str
        terms: dict[str, str]
        email_domain_class: str
        password_hash: str

    @event(Registered)
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
        #: bumped by a password change or "log out everywhere": older tokens stop working
        self.token_version = 0
        self.circles: list[dict[str, Any]] = []

    @property
    def email(self) -> str:
        return str(self.contractor["email"])

    @property
    def roles(self) -> list[str]:
        return ["customer"]

    def rehash_password(self, password_hash: str) -> None:
        """Store the same password hashed with the current parameters (no session change)."""
        if password_hash != self.password_hash:
            self._password_rehashed(password_hash)

    class PasswordRehashed(Aggregate.Event):
        password_hash: str

    @event(PasswordRehashed)
    def _password_rehashed(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def change_password(self, password_hash: str, reason: str) -> None:
        """A new password; every session and token issued before it ends, and so does a
        pending e-mail change (it may be a thief's, whose link would still work)."""
        self._password_changed(password_hash, reason)
        self.cancel_email_change("password_changed")

    class PasswordChanged(Aggregate.Event):
        password_hash: str
        reason: str

    @event(PasswordChanged)
    def _password_changed(self, password_hash: str, reason: str) -> None:
        self.password_hash = password_hash
        self.token_version += 1

    def change_info(
        self,
        contractor: dict[str, Any],
        representative: dict[str, Any] | None,
        usage_contact: dict[str, Any] | None,
        billing_contact: dict[str, Any] | None,
        email_domain_class: str,
    ) -> None:
        """Change the contract info (already validated); no event when nothing changed."""
        if (contractor, representative, usage_contact, billing_contact) != (
            self.contractor,
            self.representative,
            self.usage_contact,
            self.billing_contact,
        ):
            shipping_before = self.effective_shipping_address
            self._info_changed(
                contractor,
                representative,
                usage_contact,
                billing_contact,
                email_domain_class,
                self.contractor_type,
            )
            if self.shipping_address is None and self.effective_shipping_address != shipping_before:
                # devices go to the contractor's address, which just moved
                self._shipping_address_changed(None, self.effective_shipping_address.as_dict())

    class InfoChanged(Aggregate.Event):
        contractor: dict[str, Any]
        representative: dict[str, Any] | None
        usage_contact: dict[str, Any] | None
        billing_contact: dict[str, Any] | None
        email_domain_class: str
        contractor_type: str

    @event(InfoChanged)
    def _info_changed(
        self,
        contractor: dict[str, Any],
        representative: dict[str, Any] | None,
        usage_contact: dict[str, Any] | None,
        billing_contact: dict[str, Any] | None,
        email_domain_class: str,
        contractor_type: str,
    ) -> None:
        self.contractor = contractor
        self.representative = representative
        self.usage_contact = usage_contact
        self.billing_contact = billing_contact
        self.email_domain_class = email_domain_class

    # -- e-mail change (applies when the new address confirms it) ------------------------

    #: the change waiting for the new address (class defaults: older accounts replay)
    pending_email_change: PendingEmailChange | None = None
    #: the change last applied, so that a second click on its link can be told apart
    confirmed_email_change: PendingEmailChange | None = None

    def request_email_change(
        self, change_id: str, new_email: str, token_hash: str, expires_at: datetime
    ) -> None:
        """Note a new e-mail address; it applies only when confirmed from that address.
        A newer request replaces a pending one (its link stops working)."""
        if new_email.lower() == self.email.lower():
            raise ValueError("the new e-mail address is the current one")
        self._email_change_requested(change_id, new_email, self.email, token_hash, expires_at)

    class EmailChangeRequested(Aggregate.Event):
        change_id: str
        new_email: str
        previous_email: str
        token_hash: str
        expires_at: datetime

    @event(EmailChangeRequested)
    def _email_change_requested(
        self,
        change_id: str,
        new_email: str,
        previous_email: str,
        token_hash: str,
        expires_at: datetime,
    ) -> None:
        self.pending_email_change = PendingEmailChange(change_id, new_email, token_hash, expires_at)

    def check_email_change(
        self, change_id: str, token_hash: str, now: datetime
    ) -> PendingEmailChange:
        """The pending change a confirmation token confirms now (nothing is recorded);
        raises ``EmailChangeAlreadyConfirmedError`` (409), ``InvalidEmailChangeTokenError``
        or ``EmailChangeTokenExpiredError`` (422) when it confirms nothing."""
        confirmed = self.confirmed_email_change
        if confirmed is not None and confirmed.matches(change_id, token_hash):
            raise EmailChangeAlreadyConfirmedError
        pending = self.pending_email_change
        if pending is None:
            raise InvalidEmailChangeTokenError
        pending.check(change_id, token_hash, now)
        return pending

    def confirm_email_change(
        self, change_id: str, token_hash: str, now: datetime, email_domain_class: str
    ) -> None:
        """Apply the pending change if the token is valid now: the contract info changes
        as any other change of it does (``InfoChanged``). Otherwise it raises as
        ``check_email_change`` does, and nothing is recorded."""
        pending = self.check_email_change(change_id, token_hash, now)
        self._email_change_confirmed(change_id, pending.new_email, self.email)
        self._info_changed(
            {**self.contractor, "email": pending.new_email},
            self.representative,
            self.usage_contact,
            self.billing_contact,
            email_domain_class,
            self.contractor_type,
        )

    class EmailChangeConfirmed(Aggregate.Event):
        change_id: str
        new_email: str
        previous_email: str

    @event(EmailChangeConfirmed)
    def _email_change_confirmed(self, change_id: str, new_email: str, previous_email: str) -> None:
        self.confirmed_email_change = self.pending_email_change
        self.pending_email_change = None

    def cancel_email_change(self, reason: str) -> bool:
        """Drop the pending change (its link stops working); False when none is pending."""
        if reason not in CANCEL_REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        if self.pending_email_change is None:
            return False
        self._email_change_cancelled(self.pending_email_change.change_id, reason)
        return True

    class EmailChangeCancelled(Aggregate.Event):
        change_id: str
        reason: str

    @event(EmailChangeCancelled)
    def _email_change_cancelled(self, change_id: str, reason: str) -> None:
        self.pending_email_change = None

    def change_shipping_address(self, shipping_address: dict[str, Any] | None) -> None:
        """Change where devices are sent (None: the contractor's address)."""
        if shipping_address != self.shipping_address:
            effective = Address.of(
                shipping_address if shipping_address is not None else self.contractor
            )
            self._shipping_address_changed(shipping_address, effective.as_dict())

    class ShippingAddressChanged(Aggregate.Event):
        shipping_address: dict[str, Any] | None
        effective_address: dict[str, Any]

    @event(ShippingAddressChanged)
    def _shipping_address_changed(
        self, shipping_address: dict[str, Any] | None, effective_address: dict[str, Any]
    ) -> None:
        self.shipping_address = shipping_address

    @property
    def effective_shipping_address(self) -> Address:
        """Where devices go: the own shipping address, or the contractor's."""
        return Address.of(
            self.shipping_address if self.shipping_address is not None else self.contractor
        )

    # -- circles ---------------------------------------------------------------

    def add_circle(
        self, circle_id: str, department_name: str, staff_name: str, applied_on: str
    ) -> None:
        """Add a circle (free); its id is made by the caller so a retry can be recognised."""
        if any(c["circle_id"] == circle_id for c in self.circles):
            return
        self._circle_added(circle_id, department_name, staff_name, applied_on)

    class CircleAdded(Aggregate.Event):
        circle_id: str
        department_name: str
        staff_name: str
        applied_on: str

    @event(CircleAdded)
    def _circle_added(
        self, circle_id: str, department_name: str, staff_name: str, applied_on: str
    ) -> None:
        self.circles.append(
            {
                "circle_id": circle_id,
                "department_name": department_name,
                "staff_name": staff_name,
                "applied_on": applied_on,
                "status": "active",
                "cancelled_on": None,
                # uniques, phone numbers and rentals arrive from fulfillment
                # (ServiceActivated); the API shows the active uniques as ``uniques`` too
                "services": [],
            }
        )

    def find_circle(self, circle_id: str) -> dict[str, Any] | None:
        return next((c for c in self.circles if c["circle_id"] == circle_id), None)

    def cancel_circle(self, circle_id: str, cancelled_on: str) -> None:
        """Cancel a circle (利用中 → 解約済; again: no-op); ``CircleNotFoundError`` when the
        account has no such circle."""
        circle = self.find_circle(circle_id)
        if circle is None:
            raise CircleNotFoundError(circle_id=circle_id)
        if circle["status"] == "active":
            self._circle_cancelled(circle_id, cancelled_on)

    class CircleCancelled(Aggregate.Event):
        circle_id: str
        cancelled_on: str

    @event(CircleCancelled)
    def _circle_cancelled(self, circle_id: str, cancelled_on: str) -> None:
        for circle in self.circles:
            if circle["circle_id"] == circle_id:
                circle["status"] = "cancelled"
                circle["cancelled_on"] = cancelled_on

    # -- services in circles (fulfillment's ServiceActivated / ServiceCancelled) ----

    def _circle_or_raise(self, circle_id: str) -> dict[str, Any]:
        circle = self.find_circle(circle_id)
        if circle is None:
            raise CircleNotFoundError(circle_id=circle_id)
        return circle

    def find_service(self, circle_id: str, service_id: str) -> dict[str, Any] | None:
        circle = self.find_circle(circle_id)
        services: list[dict[str, Any]] = circle["services"] if circle is not None else []
        return next((s for s in services if s["service_id"] == service_id), None)

    def activate_service(
        self,
        circle_id: str,
        service_id: str,
        kind: str,
        sku: str,
        name: str,
        phone_number: str | None,
        activated_on: str,
    ) -> None:
        """A monthly service (a unique, a phone number, a rental) bought for one of the
        account's circles is in use. The same service again changes nothing (a cancelled
        one stays cancelled); ``CircleNotFoundError`` when the account has no such circle."""
        if kind not in SERVICE_KINDS:
            raise ValueError(f"unknown service kind {kind!r}")
        self._circle_or_raise(circle_id)
        if self.find_service(circle_id, service_id) is not None:
            return
        self._circle_service_activated(
            circle_id, service_id, kind, sku, name, phone_number, activated_on
        )

    class CircleServiceActivated(Aggregate.Event):
        circle_id: str
        service_id: str
        kind: str
        sku: str
        name: str
        phone_number: str | None
        activated_on: str

    @event(CircleServiceActivated)
    def _circle_service_activated(
        self,
        circle_id: str,
        service_id: str,
        kind: str,
        sku: str,
        name: str,
        phone_number: str | None,
        activated_on: str,
    ) -> None:
        for circle in self.circles:
            if circle["circle_id"] == circle_id:
                circle["services"].append(
                    {
                        "service_id": service_id,
                        "kind": kind,
                        "sku": sku,
                        "name": name,
                        "phone_number": phone_number,
                        "status": "active",
                        "activated_on": activated_on,
                        "cancelled_on": None,
                    }
                )

    def cancel_service(self, circle_id: str, service_id: str, cancelled_on: str) -> None:
        """A service of the circle ended (利用中 → 解約済; again: no-op).
        ``CircleNotFoundError`` / ``ServiceNotFoundError`` when the account has no such
        circle, or the circle no such service."""
        self._circle_or_raise(circle_id)
        service = self.find_service(circle_id, service_id)
        if service is None:
            raise ServiceNotFoundError(circle_id=circle_id, service_id=service_id)
        if service["status"] == "active":
            self._circle_service_cancelled(circle_id, service_id, cancelled_on)

    class CircleServiceCancelled(Aggregate.Event):
        circle_id: str
        service_id: str
        cancelled_on: str

    @event(CircleServiceCancelled)
    def _circle_service_cancelled(self, circle_id: str, service_id: str, cancelled_on: str) -> None:
        for circle in self.circles:
            if circle["circle_id"] == circle_id:
                for service in circle["services"]:
                    if service["service_id"] == service_id:
                        service["status"] = "cancelled"
                        service["cancelled_on"] = cancelled_on

    def end_all_sessions(self) -> None:
        """Log out everywhere: every refresh and access token issued so far stops working,
        and a pending e-mail change is dropped (as for a password change)."""
        self._sessions_ended()
        self.cancel_email_change("sessions_ended")

    class SessionsEnded(Aggregate.Event):
        """Every token issued before it stops working (no attributes)."""

    @event(SessionsEnded)
    def _sessions_ended(self) -> None:
        self.token_version += 1

    # -- notices for other services ----------------------------------------------

    #: the wallet event last noted (a class default: accounts older than this field replay)
    last_low_balance_notice: str | None = None

    def request_low_balance_notice(
        self, notice_id: str, balance: int, threshold: int, occurred_at: datetime
    ) -> None:
        """The wallet's balance fell below the owner's threshold: the owner is to be told
        by mail (identity holds the address). The same wallet event is noted once."""
        if notice_id == self.last_low_balance_notice:
            return
        self._low_balance_notice_requested(notice_id, balance, threshold, occurred_at)

    class LowBalanceNoticeRequested(Aggregate.Event):
        notice_id: str
        balance: int
        threshold: int
        occurred_at: datetime

    @event(LowBalanceNoticeRequested)
    def _low_balance_notice_requested(
        self, notice_id: str, balance: int, threshold: int, occurred_at: datetime
    ) -> None:
        self.last_low_balance_notice = notice_id

    #: the screening decision (kyc event) last noted (a class default, as above)
    last_screening_decision_notice: str | None = None

    def request_screening_decision_notice(
        self,
        notice_id: str,
        decision: str,
        review_id: str,
        revision: int,
        decided_at: datetime,
        valid_until: str | None = None,
        reasons: Sequence[str] = (),
    ) -> None:
        """The screening (審査) of the account was decided: the customer is to be told by
        mail (kyc holds no address). ``decision`` is "approved" (``valid_until``: ISO date
        or None for no end), "rejected" (``reasons``: kyc's reason codes) or "expired"
        (the approval ended). The same kyc event is noted once."""
        if decision not in SCREENING_DECISIONS:
            raise ValueError(f"unknown screening decision {decision!r}")
        if notice_id == self.last_screening_decision_notice:
            return
        self._screening_decision_notice_requested(
            notice_id, decision, review_id, revision, decided_at, valid_until, list(reasons)
        )

    class ScreeningDecisionNoticeRequested(Aggregate.Event):
        notice_id: str
        decision: str
        review_id: str
        revision: int
        decided_at: datetime
        valid_until: str | None
        reasons: list[str]

    @event(ScreeningDecisionNoticeRequested)
    def _screening_decision_notice_requested(
        self,
        notice_id: str,
        decision: str,
        review_id: str,
        revision: int,
        decided_at: datetime,
        valid_until: str | None,
        reasons: list[str],
    ) -> None:
        self.last_screening_decision_notice = notice_id

    # -- order notices (fulfillment's OrderPlaced, ShipmentDispatched, CheckoutRejected) --

    #: the order notices noted so far (message ids; a class default, as above)
    order_notices: tuple[str, ...] = ()

    def request_order_confirmation_notice(
        self,
        notice_id: str,
        order_id: str,
        lines: Sequence[dict[str, Any]],
        subtotal: int,
        tax: int,
        total: int,
        shipping_address: dict[str, Any] | None,
        placed_at: datetime,
    ) -> None:
        """An order was placed and paid: the customer is to get the confirmation by mail
        (its lines, totals in yen and where the devices go). Noted once per message."""
        if notice_id in self.order_notices:
            return
        self._order_confirmation_notice_requested(
            notice_id,
            order_id,
            [dict(line) for line in lines],
            subtotal,
            tax,
            total,
            shipping_address,
            placed_at,
        )

    class OrderConfirmationNoticeRequested(Aggregate.Event):
        notice_id: str
        order_id: str
        lines: list[dict[str, Any]]
        subtotal: int
        tax: int
        total: int
        shipping_address: dict[str, Any] | None
        placed_at: datetime

    @event(OrderConfirmationNoticeRequested)
    def _order_confirmation_notice_requested(
        self,
        notice_id: str,
        order_id: str,
        lines: list[dict[str, Any]],
        subtotal: int,
        tax: int,
        total: int,
        shipping_address: dict[str, Any] | None,
        placed_at: datetime,
    ) -> None:
        self.order_notices = (*self.order_notices, notice_id)

    def request_dispatch_notice(
        self,
        notice_id: str,
        order_id: str,
        carrier: str,
        tracking_number: str,
        dispatched_at: datetime,
    ) -> None:
        """An order's devices were handed to a carrier: the customer is to get the carrier
        and the tracking number by mail. Noted once per message."""
        if notice_id in self.order_notices:
            return
        self._dispatch_notice_requested(
            notice_id, order_id, carrier, tracking_number, dispatched_at
        )

    class DispatchNoticeRequested(Aggregate.Event):
        notice_id: str
        order_id: str
        carrier: str
        tracking_number: str
        dispatched_at: datetime

    @event(DispatchNoticeRequested)
    def _dispatch_notice_requested(
        self,
        notice_id: str,
        order_id: str,
        carrier: str,
        tracking_number: str,
        dispatched_at: datetime,
    ) -> None:
        self.order_notices = (*self.order_notices, notice_id)

    def request_checkout_rejection_notice(
        self, notice_id: str, checkout_id: str, reason: str, detail: str, rejected_at: datetime
    ) -> None:
        """A checkout ended without an order: the customer is to get the reason by mail.
        Noted once per message."""
        if notice_id in self.order_notices:
            return
        self._checkout_rejection_notice_requested(
            notice_id, checkout_id, reason, detail, rejected_at
        )

    class CheckoutRejectionNoticeRequested(Aggregate.Event):
        notice_id: str
        checkout_id: str
        reason: str
        detail: str
        rejected_at: datetime

    @event(CheckoutRejectionNoticeRequested)
    def _checkout_rejection_notice_requested(
        self, notice_id: str, checkout_id: str, reason: str, detail: str, rejected_at: datetime
    ) -> None:
        self.order_notices = (*self.order_notices, notice_id)


#: what a screening decision notice tells the customer
SCREENING_DECISIONS = ("approved", "rejected", "expired")
#: the kinds of service a circle holds (fulfillment's ServiceKind)
SERVICE_KINDS = ("unique", "phone_number", "rental")


class EmailClaim(Aggregate):
    """Claims one e-mail address for one account (id derived from a keyed hash of it)."""

    @staticmethod
    def create_id(email_key: str) -> UUID:
        return uuid5(_INDEX_NAMESPACE, f"email:{email_key}")

    class Claimed(Aggregate.Created):
        email_key: str
        account_id: UUID

    @event(Claimed)
    def __init__(self, email_key: str, account_id: UUID) -> None:
        self.account_id: UUID | None = account_id

    def release(self) -> None:
        """The account moved to another address: this one is free again."""
        if self.account_id is not None:
            self._released()

    class Released(Aggregate.Event):
        """The address is free again (no attributes)."""

    @event(Released)
    def _released(self) -> None:
        self.account_id = None

    def claim(self, account_id: UUID) -> None:
        """Take a free address (again by its holder: no-op); ``EmailTakenError`` when
        another account holds it."""
        if self.account_id == account_id:
            return
        if self.account_id is not None:
            raise EmailTakenError
        self._reclaimed(account_id)

    class Reclaimed(Aggregate.Event):
        account_id: UUID

    @event(Reclaimed)
    def _reclaimed(self, account_id: UUID) -> None:
        self.account_id = account_id


class LoginIdClaim(Aggregate):
    """Claims one login ID for one account; also how login finds the account."""

    @staticmethod
    def create_id(login_id: str) -> UUID:
        return uuid5(_INDEX_NAMESPACE, f"login:{login_id}")

    class Claimed(Aggregate.Created):
        login_id: str
        account_id: UUID

    @event(Claimed)
    def __init__(self, login_id: str, account_id: UUID) -> None:
        self.account_id = account_id
