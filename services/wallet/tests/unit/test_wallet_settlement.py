"""Charges the provider settled while we were not listening: a crash after the card
company answered, a lost notification. The expiry timer asks the provider first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pbx_wallet.application import WalletService
from pbx_wallet.commands import RequestTopUp
from pbx_wallet.payments import ChargeStart, ProviderAnswer, SandboxProvider


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class DiesAfterTheCardCompanyAnswers(SandboxProvider):
    """The card is charged, then the process dies before the answer is recorded."""

    def start(self, request: ChargeStart) -> ProviderAnswer:
        super().start(request)
        raise RuntimeError("process killed")


def wallet_service(provider: SandboxProvider, clock: Clock) -> WalletService:
    return WalletService(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"}, provider=provider, clock=clock
    )


def test_a_card_charged_before_a_crash_is_credited_at_its_deadline_not_lost() -> None:
    clock = Clock()
    app = wallet_service(DiesAfterTheCardCompanyAnswers(b"secret"), clock)
    account = uuid.uuid4()
    with pytest.raises(RuntimeError):
        app.request_top_up(RequestTopUp(account, 8_000, "credit_card", "tok_visa"))
    wallet = app.find_wallet(account)
    assert wallet is not None
    [(charge_id, charge)] = wallet.charges.items()
    assert (charge["status"], wallet.balance, wallet.pending) == ("pending", 0, 8_000)
    clock.now += timedelta(minutes=15)
    assert app.expire_charge(account, uuid.UUID(charge_id)) is True
    wallet = app.find_wallet(account)
    assert wallet is not None
    assert (wallet.charges[charge_id]["status"], wallet.balance, wallet.pending) == (
        "confirmed",
        8_000,
        0,
    )


def test_a_store_payment_whose_notification_was_lost_is_credited_at_the_deadline() -> None:
    clock = Clock()
    sandbox = SandboxProvider(b"secret")
    app = wallet_service(sandbox, clock)
    account = uuid.uuid4()
    charge_id, _ = app.request_top_up(RequestTopUp(account, 5_000, "convenience_store"))
    sandbox.pay(charge_id, clock())  # the customer paid; the notification never came
    clock.now += timedelta(days=3)
    assert app.expire_charge(account, charge_id) is True
    wallet = app.find_wallet(account)
    assert wallet is not None
    assert (wallet.charge(charge_id)["status"], wallet.balance) == ("confirmed", 5_000)


def test_an_unpaid_store_charge_expires_at_the_deadline_and_only_then() -> None:
    clock = Clock()
    app = wallet_service(SandboxProvider(b"secret"), clock)
    account = uuid.uuid4()
    charge_id, charge = app.request_top_up(RequestTopUp(account, 5_000, "convenience_store"))
    assert charge["expires_at"] == clock() + timedelta(days=3)
    clock.now += timedelta(days=3) - timedelta(seconds=1)
    assert app.expire_charge(account, charge_id) is False
    clock.now += timedelta(seconds=1)
    assert app.expire_charge(account, charge_id) is True
    assert app.expire_charge(account, charge_id) is False  # once
    wallet = app.find_wallet(account)
    assert wallet is not None
    assert (wallet.charge(charge_id)["status"], wallet.balance, wallet.pending) == (
        "expired",
        0,
        0,
    )
