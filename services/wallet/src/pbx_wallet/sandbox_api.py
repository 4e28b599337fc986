"""The sandbox payment provider's own pages (development and staging only).

Mounted only when the sandbox is the provider (``pbx_wallet.main.choose_provider``), and
only staff with the ``admin`` role may use them: marking a charge paid credits the wallet.

``POST /sandbox/payments/{charge_id}/pay`` plays the customer paying: at the
convenience store or the bank counter it makes the provider send its signed
notification to the wallet's webhook (the same verification path as a real
one); at the net bank it marks the payment done, and the customer then
returns (``POST /wallets/me/top-ups/{charge_id}/return``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import anyio
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import problem_responses
from pbx_wallet import errors
from pbx_wallet.api import PaymentNotificationIn, WalletDep
from pbx_wallet.commands import ReceivePaymentNotice
from pbx_wallet.payments import SandboxProvider, verify

router = APIRouter(prefix="/sandbox", tags=["payment sandbox"])


def get_sandbox(request: Request) -> SandboxProvider:
    sandbox: SandboxProvider = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[SandboxProvider, Depends(get_sandbox)]
AdminDep = Annotated[Caller, Depends(require_roles("admin"))]


class SandboxPayIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    amount: int | None = Field(
        default=None, ge=1, le=100_000_000, description="pay a different amount (default: asked)"
    )


class SandboxPayOut(BaseModel):
    charge_id: UUID
    notified: bool
    result: str | None = None
    return_to: str | None = None


@router.post(
    "/payments/{charge_id}/pay",
    response_model=SandboxPayOut,
    responses=problem_responses(
        401, 403, 404, s403="not an admin", s404="the sandbox knows no such charge"
    ),
)
async def sandbox_pay(
    charge_id: UUID,
    admin: AdminDep,
    app: WalletDep,
    sandbox: SandboxDep,
    request: Request,
    body: Annotated[SandboxPayIn | None, Body()] = None,
) -> SandboxPayOut:
    """Play the customer paying a sandbox charge (convenience store, bank transfer, net bank);
    admins only."""
    status = sandbox.status(charge_id)
    if status.state == "unknown":
        raise errors.ChargeNotFoundError
    method = sandbox.method_of(charge_id)
    signed = sandbox.pay(charge_id, app.clock(), body.amount if body else None)
    if method == "net_bank":
        root = request.scope.get("root_path", "")
        return SandboxPayOut(
            charge_id=charge_id,
            notified=False,
            return_to=f"{root}/wallets/me/top-ups/{charge_id}/return",
        )
    verify(request.app.state.webhook_secrets, signed.signature, signed.body, app.clock())
    notice = _notice(signed.body)
    result = await anyio.to_thread.run_sync(app.receive_payment_notice, notice)
    return SandboxPayOut(charge_id=charge_id, notified=True, result=result)


def _notice(body: bytes) -> ReceivePaymentNotice:
    notice = PaymentNotificationIn.model_validate_json(body)
    return ReceivePaymentNotice(
        notice.notification_id, notice.charge_id, notice.status, notice.amount, notice.paid_at
    )
