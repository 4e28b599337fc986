"""Commands of the identity service: one frozen dataclass per use case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
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
