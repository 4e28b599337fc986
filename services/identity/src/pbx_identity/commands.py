"""Commands of the identity service: one frozen dataclass per use case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pbx_identity.validation.model import RegistrationData
from pbx_identity.validation.registration import ContractInfo


@dataclass(frozen=True)
class RegisterAccount:
    registration: RegistrationData


@dataclass(frozen=True)
class LogIn:
    login_id: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RefreshSession:
    refresh_token: str = field(repr=False)


@dataclass(frozen=True)
class LogOut:
    subject_id: UUID
    refresh_token: str | None = field(default=None, repr=False)
    everywhere: bool = False


@dataclass(frozen=True)
class RequestPasswordReminder:
    login_id: str


@dataclass(frozen=True)
class ResetPassword:
    token: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class CreateStaff:
    login_id: str
    name: str
    roles: tuple[str, ...]
    password: str = field(repr=False)


@dataclass(frozen=True)
class ChangeContractInfo:
    account_id: UUID
    info: ContractInfo


@dataclass(frozen=True)
class ConfirmEmailChange:
    #: from the link mailed to the new address: it alone authorises the change
    token: str = field(repr=False)


@dataclass(frozen=True)
class CancelEmailChange:
    account_id: UUID


@dataclass(frozen=True)
class AddCircle:
    account_id: UUID
    circle_id: UUID
    department_name: str
    staff_name: str


@dataclass(frozen=True)
class CancelCircle:
    account_id: UUID
    circle_id: UUID


@dataclass(frozen=True)
class RequestLowBalanceNotice:
    account_id: UUID
    #: the wallet event's id: the same event is noted once
    notice_id: str
    balance: int  # yen
    threshold: int  # yen
    occurred_at: datetime


@dataclass(frozen=True)
class RequestScreeningDecisionNotice:
    account_id: UUID
    #: the kyc event's id: the same event is noted once
    notice_id: str
    decision: str  # "approved" | "rejected" | "expired"
    review_id: UUID
    revision: int
    decided_at: datetime
    #: approvals: the end of the approval's validity (None: no end)
    valid_until: date | None = None
    #: rejections: kyc's reason codes
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActivateCircleService:
    account_id: UUID
    circle_id: UUID
    service_id: UUID
    kind: str  # "unique" | "phone_number" | "rental"
    sku: str
    name: str
    #: phone numbers: E.164
    phone_number: str | None
    activated_at: datetime


@dataclass(frozen=True)
class CancelCircleService:
    account_id: UUID
    circle_id: UUID
    service_id: UUID
    cancelled_at: datetime


@dataclass(frozen=True)
class RequestOrderConfirmationNotice:
    account_id: UUID
    #: the fulfillment message's id: the same message is noted once
    notice_id: str
    order_id: UUID
    #: the order's lines (name, quantity, prices in yen, billing kind, 日割)
    lines: tuple[dict[str, Any], ...]
    subtotal: int  # yen, tax excluded
    tax: int  # yen
    total: int  # yen, tax included: what the wallet debited
    #: the address stored as identity stores one (None: nothing to ship)
    shipping_address: dict[str, Any] | None = field(repr=False)
    placed_at: datetime


@dataclass(frozen=True)
class RequestDispatchNotice:
    account_id: UUID
    #: the fulfillment message's id: the same message is noted once
    notice_id: str
    order_id: UUID
    carrier: str
    tracking_number: str
    dispatched_at: datetime


@dataclass(frozen=True)
class RequestCheckoutRejectionNotice:
    account_id: UUID
    #: the fulfillment message's id: the same message is noted once
    notice_id: str
    checkout_id: UUID
    reason: str
    detail: str
    rejected_at: datetime
