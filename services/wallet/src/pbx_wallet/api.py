"""Wallet routes: the owner's balance, statement and top-ups; the provider's webhook;
staff reads and the unused-balance report."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pbx_kit.app import schema_ref
from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import FieldProblem, RuleViolationError, problem_responses
from pbx_wallet import errors
from pbx_wallet.application import WalletService
from pbx_wallet.commands import ReceivePaymentNotice, RequestTopUp, SetLowBalanceThreshold
from pbx_wallet.domain.wallet import TOP_UP_LIMITS, ChargeState, Wallet, missing_of, paid_of
from pbx_wallet.ledger import LedgerStore, StatementLine
from pbx_wallet.payments import (
    PAYMENT_WINDOWS,
    SIGNATURE_HEADER,
    SignatureError,
    StaleSignatureError,
    verify,
)

router = APIRouter(tags=["wallet"])
JST = ZoneInfo("Asia/Tokyo")

CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]
StaffDep = Annotated[Caller, Depends(require_roles("auditor", "admin"))]
_OWNER = problem_responses(401, 403, s403="not a customer login")
_STAFF = problem_responses(401, 403, 404, s403="not an auditor or admin", s404="no such wallet")
_REPORT = problem_responses(401, 403, s403="not an auditor or admin")
_TOP_UP = problem_responses(
    401,
    402,
    403,
    409,
    s402="the card company declined the charge (card_declined)",
    s409="too many unpaid charges (too_many_pending_charges)",
)
_CHARGE = problem_responses(401, 403, 404, s404="no such charge of yours")
_WEBHOOK = problem_responses(
    401,
    404,
    s401="bad signature (invalid_signature) or timestamp out of tolerance (stale_notification)",
    s404="the notification names no charge (unknown_charge)",
)

Method = Literal["credit_card", "net_bank", "convenience_store", "bank_transfer"]


def get_app(request: Request) -> WalletService:
    app: WalletService = request.app.state.application
    return app


def get_store(request: Request) -> LedgerStore:
    store: LedgerStore = request.app.state.ledger_store
    return store


WalletDep = Annotated[WalletService, Depends(get_app)]
StoreDep = Annotated[LedgerStore, Depends(get_store)]


# -- shapes -----------------------------------------------------------------


class WalletOut(BaseModel):
    account_id: UUID
    balance: int = Field(description="spendable yen (confirmed top-ups − debits + refunds)")
    pending: int = Field(description="yen of top-ups waiting for payment")
    low_balance_threshold: int = Field(description="a mail is sent below this (0 = never)")
    currency: Literal["JPY"] = "JPY"


class WalletChangeIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    low_balance_threshold: int = Field(ge=0, le=10_000_000, description="yen; 0 turns it off")


#: each method's amount limits, as JSON Schema conditions (a generated client or form
#: knows them before it asks; the service answers 422 amount_out_of_range beyond them)
_LIMITS_SCHEMA: list[dict[str, Any]] = [
    {
        "if": {"properties": {"method": {"const": method}}, "required": ["method"]},
        "then": {"properties": {"amount": {"minimum": low, "maximum": high}}},
    }
    for method, (low, high) in TOP_UP_LIMITS.items()
]
_LIMITS_TEXT = "; ".join(f"{m} {lo:,}–{hi:,}" for m, (lo, hi) in TOP_UP_LIMITS.items())


class TopUpIn(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"allOf": _LIMITS_SCHEMA},  # type: ignore[dict-item]
    )

    # no ge/le here: the method's own limits are checked for any integer, so 0 or
    # -5000 is told the method's range (amount_out_of_range), not a bare "too small"
    amount: int = Field(
        description=f"yen (no consumption tax on a top-up); per method: {_LIMITS_TEXT} "
        "(422 amount_out_of_range beyond them; GET /top-up-methods lists them)",
    )
    method: Method
    card_token: str | None = Field(
        default=None,
        pattern=r"^tok_[A-Za-z0-9_]{1,64}$",
        description="credit card only: the provider's token for the card (never the number)",
    )


class TopUpMethodOut(BaseModel):
    method: Method
    name: str = Field(description="the method's name as the customer reads it")
    min_amount: int = Field(description="smallest top-up, yen")
    max_amount: int = Field(description="largest top-up, yen")
    settles: Literal["at_once", "when_paid"] = Field(
        description="at_once: the balance grows with the answer (card); when_paid: when "
        "the money arrives"
    )
    payment_window_minutes: int = Field(description="how long an unpaid top-up waits")


#: the methods in the order a customer is offered them
METHOD_NAMES: dict[str, str] = {
    "credit_card": "クレジットカード",
    "net_bank": "ネットバンキング",
    "convenience_store": "コンビニ払い",
    "bank_transfer": "銀行振込",
}


#: payment details that are amounts of money: integer yen in every answer
_MONEY_DETAILS = frozenset({"transfer_amount"})


class ChargeOut(BaseModel):
    charge_id: UUID
    method: str
    amount: int = Field(description="yen asked for")
    status: Literal["pending", "confirmed", "declined", "expired"]
    paid: int = Field(description="yen of it credited to the balance so far")
    missing: int = Field(description="yen of it not paid (a short bank transfer: still owed)")
    requested_at: datetime = Field(description="Japan time (+09:00)")
    expires_at: datetime | None = Field(
        description="the payment deadline (pending charges), Japan time (+09:00)"
    )
    payment: dict[str, str | int] = Field(
        description="what the customer needs to pay: payment_slip_number (convenience store), "
        "bank transfer details (transfer_amount in yen), or redirect_url (net bank)"
    )
    decline_reason: str | None = None
    message: str | None = Field(
        description="what the customer still has to do or should know, in Japanese "
        "(the deadline in Japan time), e.g. a bank transfer that arrived short"
    )


class PendingTopUpOut(BaseModel):
    """A top-up waiting for its money: not a movement of the balance yet."""

    charge_id: UUID
    method: str
    requested: int = Field(description="yen asked for")
    paid: int = Field(description="yen arrived and credited so far (a short bank transfer)")
    missing: int = Field(description="yen still to pay")
    requested_at: datetime = Field(description="Japan time (+09:00)")
    expires_at: datetime | None = Field(description="the payment deadline, Japan time (+09:00)")
    payment: dict[str, str | int]
    message: str = Field(description="what to pay by when, in Japanese (Japan time)")


class StatementLineOut(BaseModel):
    """One completed movement of the customer's money: a top-up (or the part of a bank
    transfer that arrived), an order's payment, a refund."""

    entry: int
    posted_at: datetime = Field(description="Japan time (+09:00)")
    kind: Literal["charge_confirmed", "charge_partially_paid", "debited", "refunded"]
    description: str
    amount: int = Field(description="change of the spendable balance, yen (signed)")
    balance_after: int = Field(description="spendable balance after it, yen")
    charge_id: UUID | None
    order_id: UUID | None
    method: str | None


class StatementOut(BaseModel):
    items: list[StatementLineOut]
    page: int
    per_page: int
    total: int
    pending: list[PendingTopUpOut] = Field(
        description="top-ups waiting for payment, oldest first (not statement lines)"
    )


class LedgerLineOut(BaseModel):
    """One ledger movement (auditors): every event that posted money, pending included."""

    entry: int
    posted_at: datetime = Field(description="Japan time (+09:00)")
    kind: str
    description: str
    amount: int = Field(description="change of the spendable balance, yen (signed)")
    pending_change: int
    balance_after: int
    pending_after: int
    charge_id: UUID | None
    order_id: UUID | None
    method: str | None


class LedgerOut(BaseModel):
    items: list[LedgerLineOut]
    page: int
    per_page: int
    total: int


class PaymentNotificationIn(BaseModel):
    """What the payment provider notifies (signed: ``Pbx-Signature: t=…,v1=…``)."""

    model_config = ConfigDict(extra="ignore")

    notification_id: str = Field(pattern=r"^[A-Za-z0-9_:-]{1,64}$")
    charge_id: UUID
    status: Literal["paid", "cancelled"]
    amount: int = Field(ge=0, le=100_000_000)
    paid_at: datetime | None = None


class NotificationOut(BaseModel):
    result: Literal[
        "credited",
        "partially_credited",
        "duplicate",
        "already_confirmed",
        "recorded_for_reconciliation",
        "declined",
    ]


class UnusedBalanceOut(BaseModel):
    date: date
    as_of: datetime = Field(description="the end of that day, Japan time (exclusive)")
    total: int = Field(description="unused prepaid balance, yen")
    wallets: int = Field(description="wallets holding a balance")


class ReconciliationOut(BaseModel):
    account_id: UUID
    charge_id: UUID
    notification_id: str
    amount: int
    reason: str
    recorded_at: datetime


def wallet_out(account_id: UUID, wallet: Wallet | None) -> WalletOut:
    if wallet is None:  # not opened yet (its AccountRegistered is on its way): empty
        return WalletOut(account_id=account_id, balance=0, pending=0, low_balance_threshold=0)
    return WalletOut(
        account_id=account_id,
        balance=wallet.balance,
        pending=wallet.pending,
        low_balance_threshold=wallet.low_balance_threshold,
    )


def jst(moment: datetime) -> datetime:
    """A time as people are shown it: Japan time (stored and published in UTC)."""
    return moment.astimezone(JST)


def jst_words(moment: datetime) -> str:
    """A time in a Japanese sentence, Japan time: 2026年12月8日 21:00."""
    at = jst(moment)
    return f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"


def payment_details(charge: ChargeState) -> dict[str, str | int]:
    return {
        key: int(value) if key in _MONEY_DETAILS and value.isdigit() else value
        for key, value in charge["payment"].items()
    }


def charge_message(charge: ChargeState) -> str | None:
    """What the customer should know of a top-up that is not simply done, in Japanese."""
    paid, missing = paid_of(charge), missing_of(charge)
    deadline = charge["expires_at"]
    if charge["status"] == "pending" and deadline is not None:
        by = f"{jst_words(deadline)}まで"
        if paid:
            return (
                f"お振込金額が¥{missing:,}不足しています。不足分¥{missing:,}をお振込みください"
                f"（お支払い期限：{by}）。ご入金済みの¥{paid:,}は残高にチャージしました。"
            )
        verb = "お振込み" if charge["method"] == "bank_transfer" else "お支払い"
        return f"¥{missing:,}を{by}に{verb}ください。"
    if charge["status"] == "expired" and paid:
        return (
            f"お振込金額が¥{missing:,}不足したままお支払い期限を過ぎました。"
            f"ご入金分の¥{paid:,}は残高にチャージ済みです。"
        )
    return None


def charge_out(charge_id: UUID, charge: ChargeState) -> ChargeOut:
    pending = charge["status"] == "pending"
    return ChargeOut(
        charge_id=charge_id,
        method=charge["method"],
        amount=charge["amount"],
        status=charge["status"],  # type: ignore[arg-type]
        paid=paid_of(charge),
        missing=missing_of(charge),
        requested_at=jst(charge["requested_at"]),
        expires_at=jst(charge["expires_at"]) if pending and charge["expires_at"] else None,
        payment=payment_details(charge),
        decline_reason=charge["decline_reason"] or None,
        message=charge_message(charge),
    )


def pending_top_ups(wallet: Wallet | None) -> list[PendingTopUpOut]:
    """The wallet's top-ups waiting for payment, oldest first."""
    if wallet is None:
        return []
    waiting = [(UUID(i), c) for i, c in wallet.charges.items() if c["status"] == "pending"]
    waiting.sort(key=lambda item: item[1]["requested_at"])
    return [
        PendingTopUpOut(
            charge_id=charge_id,
            method=charge["method"],
            requested=charge["amount"],
            paid=paid_of(charge),
            missing=missing_of(charge),
            requested_at=jst(charge["requested_at"]),
            expires_at=jst(charge["expires_at"]) if charge["expires_at"] else None,
            payment=payment_details(charge),
            message=charge_message(charge) or "",
        )
        for charge_id, charge in waiting
    ]


async def statement_out(
    app: WalletService, store: LedgerStore, account_id: UUID, page: int, per_page: int
) -> StatementOut:
    lines, total = await store.statement(
        account_id, per_page, (page - 1) * per_page, balance_only=True
    )
    wallet = await anyio.to_thread.run_sync(app.find_wallet, account_id)
    return StatementOut(
        items=[_line_out(line) for line in lines],
        page=page,
        per_page=per_page,
        total=total,
        pending=pending_top_ups(wallet),
    )


def _line_out(line: StatementLine) -> StatementLineOut:
    return StatementLineOut(
        entry=line.entry,
        posted_at=jst(line.posted_at),
        kind=line.kind,  # type: ignore[arg-type]
        description=line.description,
        amount=line.amount,
        balance_after=line.balance_after,
        charge_id=line.charge_id,
        order_id=line.order_id,
        method=line.method,
    )


async def ledger_out(store: LedgerStore, account_id: UUID, page: int, per_page: int) -> LedgerOut:
    lines, total = await store.statement(account_id, per_page, (page - 1) * per_page)
    return LedgerOut(
        items=[
            LedgerLineOut(**(vars(line) | {"posted_at": jst(line.posted_at)})) for line in lines
        ],
        page=page,
        per_page=per_page,
        total=total,
    )


Page = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


# -- the owner ----------------------------------------------------------------


@router.get("/top-up-methods", response_model=list[TopUpMethodOut])
def list_top_up_methods() -> list[TopUpMethodOut]:
    """The ways to charge the balance, each with its smallest and largest amount in yen."""
    return [
        TopUpMethodOut(
            method=method,  # type: ignore[arg-type]
            name=name,
            min_amount=TOP_UP_LIMITS[method][0],
            max_amount=TOP_UP_LIMITS[method][1],
            settles="at_once" if method == "credit_card" else "when_paid",
            payment_window_minutes=int(PAYMENT_WINDOWS[method].total_seconds() // 60),
        )
        for method, name in METHOD_NAMES.items()
    ]


@router.get("/wallets/me", response_model=WalletOut, responses=_OWNER)
def read_my_wallet(caller: CustomerDep, app: WalletDep) -> WalletOut:
    """Your balance (spendable) and pending top-ups, in yen."""
    account_id = caller.subject_uuid
    return wallet_out(account_id, app.find_wallet(account_id))


@router.patch("/wallets/me", response_model=WalletOut, responses=_OWNER)
def change_my_wallet(body: WalletChangeIn, caller: CustomerDep, app: WalletDep) -> WalletOut:
    """Set the balance below which you are told by mail (0 = never)."""
    account_id = caller.subject_uuid
    wallet = app.set_low_balance_threshold(
        SetLowBalanceThreshold(account_id, body.low_balance_threshold)
    )
    return wallet_out(account_id, wallet)


@router.get("/wallets/me/statement", response_model=StatementOut, responses=_OWNER)
async def read_my_statement(
    caller: CustomerDep, app: WalletDep, store: StoreDep, page: Page = 1, per_page: PerPage = 20
) -> StatementOut:
    """Every completed movement of your money (top-ups, order payments, refunds), newest
    first, paged; and apart from them, the top-ups waiting for payment with their deadline."""
    return await statement_out(app, store, caller.subject_uuid, page, per_page)


@router.post("/wallets/me/top-ups", status_code=201, response_model=ChargeOut, responses=_TOP_UP)
def request_top_up(body: TopUpIn, caller: CustomerDep, app: WalletDep) -> ChargeOut:
    """Charge your balance by card (at once), net bank, convenience store or bank transfer
    (when paid); the answer says how to pay."""
    charge_id, charge = app.request_top_up(
        RequestTopUp(caller.subject_uuid, body.amount, body.method, body.card_token)
    )
    return charge_out(charge_id, charge)


@router.get("/wallets/me/top-ups/{charge_id}", response_model=ChargeOut, responses=_CHARGE)
def read_my_top_up(charge_id: UUID, caller: CustomerDep, app: WalletDep) -> ChargeOut:
    """One of your top-ups: its status and how to pay it."""
    return charge_out(charge_id, app.charge_of(caller.subject_uuid, charge_id))


@router.post("/wallets/me/top-ups/{charge_id}/return", response_model=ChargeOut, responses=_CHARGE)
def return_from_bank(charge_id: UUID, caller: CustomerDep, app: WalletDep) -> ChargeOut:
    """You came back from the net bank: the top-up is confirmed if the bank says it was paid."""
    return charge_out(charge_id, app.return_from_bank(caller.subject_uuid, charge_id))


# -- the payment provider -------------------------------------------------------


@router.post(
    "/payment-notifications",
    response_model=NotificationOut,
    openapi_extra=schema_ref(PaymentNotificationIn),
    responses=_WEBHOOK,
)
async def receive_payment_notification(request: Request, app: WalletDep) -> NotificationOut:
    """The payment provider's signed notification that a charge was paid or cancelled."""
    body = await request.body()
    secrets: list[bytes] = request.app.state.webhook_secrets
    try:
        verify(secrets, request.headers.get(SIGNATURE_HEADER), body, app.clock())
    except StaleSignatureError:
        raise errors.StaleNotificationError from None
    except SignatureError:
        raise errors.InvalidSignatureError from None
    try:
        notice = PaymentNotificationIn.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise RequestValidationError(
            exc.errors() if isinstance(exc, ValidationError) else _malformed(exc)
        ) from None
    result = await anyio.to_thread.run_sync(
        app.receive_payment_notice,
        ReceivePaymentNotice(
            notice.notification_id, notice.charge_id, notice.status, notice.amount, notice.paid_at
        ),
    )
    return NotificationOut(result=result)


def _malformed(exc: Exception) -> list[dict[str, Any]]:
    return [{"type": "json_invalid", "loc": ("body",), "msg": str(exc), "input": None}]


# -- staff -------------------------------------------------------------------


@router.get("/wallets/{account_id}", response_model=WalletOut, responses=_STAFF)
def read_wallet(account_id: UUID, caller: StaffDep, app: WalletDep) -> WalletOut:
    """An account's wallet (auditor, admin)."""
    wallet = app.find_wallet(account_id)
    if wallet is None:
        raise errors.WalletNotFoundError
    return wallet_out(account_id, wallet)


@router.get("/wallets/{account_id}/statement", response_model=StatementOut, responses=_STAFF)
async def read_statement(
    account_id: UUID,
    caller: StaffDep,
    app: WalletDep,
    store: StoreDep,
    page: Page = 1,
    per_page: PerPage = 20,
) -> StatementOut:
    """An account's statement as its owner reads it, newest first (auditor, admin)."""
    if await store.totals(account_id) is None:
        raise errors.WalletNotFoundError
    return await statement_out(app, store, account_id, page, per_page)


@router.get("/wallets/{account_id}/ledger", response_model=LedgerOut, responses=_STAFF)
async def read_ledger(
    account_id: UUID,
    caller: StaffDep,
    store: StoreDep,
    page: Page = 1,
    per_page: PerPage = 20,
) -> LedgerOut:
    """Every ledger movement of an account, newest first: top-ups requested, confirmed,
    declined and expired, with the pending amount after each (auditor, admin)."""
    if await store.totals(account_id) is None:
        raise errors.WalletNotFoundError
    return await ledger_out(store, account_id, page, per_page)


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` in Japan time (the report's base instant)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=JST)


@router.get("/reports/unused-balance", response_model=UnusedBalanceOut, responses=_REPORT)
async def report_unused_balance(
    caller: StaffDep,
    store: StoreDep,
    day: Annotated[
        str,
        Query(
            alias="date",
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="base date YYYY-MM-DD (e.g. 3/31, 9/30)",
            examples=["2027-03-31"],
        ),
    ],
) -> UnusedBalanceOut:
    """The total unused prepaid balance at the end of a day, Japan time (auditor, admin)."""
    return await unused_balance_report(store, report_date(day))


def report_date(text: str) -> date:
    """A base date the report can be made for (a real calendar day, years 2000–9998)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 9998:
        raise RuleViolationError(
            errors=[
                FieldProblem(
                    "date",
                    "invalid_date",
                    "基準日は2000年から9998年までの実在する日付（YYYY-MM-DD）で指定してください。",
                )
            ]
        )
    return day


async def unused_balance_report(store: LedgerStore, day: date) -> UnusedBalanceOut:
    as_of = end_of_day(day)
    figures = await store.unused_balance(as_of)
    return UnusedBalanceOut(date=day, as_of=as_of, total=figures.total, wallets=figures.wallets)


@router.get("/reconciliations", response_model=list[ReconciliationOut], responses=_STAFF)
async def list_reconciliations(caller: StaffDep, store: StoreDep) -> list[ReconciliationOut]:
    """Payments the wallet did not credit (late, cancelled or a different amount), oldest first."""
    return [ReconciliationOut(**row) for row in await store.reconciliations()]
