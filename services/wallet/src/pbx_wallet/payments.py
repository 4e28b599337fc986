"""The payment-provider port, its sandbox, and the signature on provider notifications.

The four charge methods behave like the real kinds:

- credit card: authorised at once with a card token (the card number never
  reaches us) or declined;
- net bank: the customer is sent to the bank and confirmed when they come back
  having paid;
- convenience store: a payment slip number and a deadline; confirmed only when
  the provider notifies payment;
- bank transfer: transfer details (a virtual account) and a deadline; confirmed
  on notification.

Notifications carry ``Pbx-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>." + body>``; several ``v1`` values may be sent while a secret is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID, uuid4

SIGNATURE_HEADER = "Pbx-Signature"
#: how old (or how far ahead) a notification's timestamp may be
SIGNATURE_TOLERANCE = timedelta(minutes=5)

Method = Literal["credit_card", "net_bank", "convenience_store", "bank_transfer"]
#: how long each kind of charge waits for its money
PAYMENT_WINDOWS: dict[str, timedelta] = {
    # a card answer is immediate; the window only covers a crash between asking and recording
    "credit_card": timedelta(minutes=15),
    "net_bank": timedelta(minutes=30),
    "convenience_store": timedelta(days=3),
    "bank_transfer": timedelta(days=7),
}


@dataclass(frozen=True)
class ChargeStart:
    charge_id: UUID
    method: str
    amount: int
    requested_at: datetime
    card_token: str | None = None
    #: where the bank sends the customer back (net bank)
    return_url: str = ""


@dataclass(frozen=True)
class ProviderAnswer:
    outcome: Literal["approved", "declined", "awaiting_payment"]
    #: what the customer needs to pay: slip number, transfer details, bank URL
    payment: dict[str, str] = field(default_factory=dict)
    decline_reason: str = ""


@dataclass(frozen=True)
class ProviderStatus:
    state: Literal["paid", "unpaid", "declined", "unknown"]
    #: everything received for the charge so far, yen (a transfer may come in parts)
    amount: int = 0


class PaymentProvider(Protocol):
    def start(self, request: ChargeStart) -> ProviderAnswer:
        """Open a charge with the provider (idempotent per charge id)."""
        ...

    def status(self, charge_id: UUID) -> ProviderStatus:
        """What the provider knows of a charge (before it is expired, after a bank return)."""
        ...


# -- signatures ---------------------------------------------------------------


class SignatureError(ValueError):
    """Raised when a notification's signature is missing, malformed or wrong."""


class StaleSignatureError(SignatureError):
    """Raised when a notification's timestamp is outside the tolerance (a replay)."""


_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for a notification body."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secrets: Sequence[bytes], header: str | None, body: bytes, now: datetime) -> None:
    """Raise unless the header signs this body with one of the secrets, recently."""
    if not header:
        raise SignatureError("missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and _DIGEST.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed")
    valid = any(
        hmac.compare_digest(_mac(secret, timestamp, body), candidate)
        for secret in secrets
        for candidate in candidates
    )
    if not valid:
        raise SignatureError("mismatch")
    age = abs(now.timestamp() - timestamp)
    if age > SIGNATURE_TOLERANCE.total_seconds():
        raise StaleSignatureError("timestamp outside tolerance")


# -- the sandbox provider -----------------------------------------------------


@dataclass
class _SandboxCharge:
    method: str
    amount: int
    state: Literal["unpaid", "paid", "declined"]
    #: what the customer actually paid (a transfer may be short)
    paid: int = 0


@dataclass(frozen=True)
class SignedNotification:
    body: bytes
    signature: str


class SandboxProvider:
    """A provider for development and tests, with each method's real behaviour.

    Card tokens: ``tok_decline_<reason>`` is declined with that reason, any other
    ``tok_…`` is approved. ``pay`` plays the customer paying at the store, the
    bank counter or the net bank, and returns the notification the provider
    would send (signed with the shared secret). State lives in memory.
    """

    def __init__(
        self,
        secret: bytes,
        base_url: str = "https://sandbox.pay.example.jp",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._charges: dict[UUID, _SandboxCharge] = {}
        self._lock = threading.Lock()

    def start(self, request: ChargeStart) -> ProviderAnswer:
        with self._lock:
            known = self._charges.get(request.charge_id)
            if known is None:
                known = self._charges[request.charge_id] = _SandboxCharge(
                    request.method, request.amount, "unpaid"
                )
        digits = str(int(hashlib.sha256(request.charge_id.bytes).hexdigest(), 16))
        if request.method == "credit_card":
            token = request.card_token or ""
            if token.startswith("tok_decline"):
                reason = token.removeprefix("tok_decline").strip("_") or "card_declined"
                known.state = "declined"
                return ProviderAnswer("declined", decline_reason=reason)
            known.state, known.paid = "paid", request.amount
            return ProviderAnswer(
                "approved", {"card_brand": "sandbox", "authorization": digits[:6]}
            )
        if request.method == "net_bank":
            return ProviderAnswer(
                "awaiting_payment",
                {"redirect_url": f"{self.base_url}/net-bank/{request.charge_id}"},
            )
        if request.method == "convenience_store":
            return ProviderAnswer(
                "awaiting_payment",
                {
                    "payment_slip_number": digits[:11],
                    "confirmation_number": digits[11:15],
                    "stores": "セブン-イレブン、ローソン、ファミリーマート、ミニストップ",
                },
            )
        return ProviderAnswer(
            "awaiting_payment",
            {
                "bank_name": "サンドボックス銀行",
                "branch_name": "本店営業部（001）",
                "account_type": "普通",
                "account_number": digits[:7],
                "account_holder": "クラウドピービーエックス（カ",
                "transfer_amount": str(request.amount),
            },
        )

    def status(self, charge_id: UUID) -> ProviderStatus:
        with self._lock:
            charge = self._charges.get(charge_id)
        if charge is None:
            return ProviderStatus("unknown")
        return ProviderStatus(charge.state, charge.paid)

    def method_of(self, charge_id: UUID) -> str | None:
        with self._lock:
            charge = self._charges.get(charge_id)
        return charge.method if charge is not None else None

    def pay(self, charge_id: UUID, now: datetime, amount: int | None = None) -> SignedNotification:
        """The customer pays (by default what is still owed); the notification the provider
        then sends."""
        with self._lock:
            charge = self._charges.get(charge_id)
            if charge is None:
                raise KeyError(str(charge_id))
            # a transfer may come in parts: the provider's status tells the total received,
            # each notification what that payment brought
            paid = charge.amount - charge.paid if amount is None else amount
            charge.state = "paid"
            charge.paid += paid
        return self.notification(charge_id, "paid", paid, now)

    def notification(
        self,
        charge_id: UUID,
        status: str,
        amount: int,
        now: datetime,
        notification_id: str | None = None,
    ) -> SignedNotification:
        body = json.dumps(
            {
                "notification_id": notification_id or f"ntf_{uuid4().hex}",
                "charge_id": str(charge_id),
                "status": status,
                "amount": amount,
                "paid_at": now.isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        return SignedNotification(body, sign(self.secret, body, int(now.timestamp())))
