"""Wallet's errors (problem+json through the kit's single handler).

The wallet's own refusals are raised by the aggregate (``pbx_wallet.domain.wallet``)
and re-exported here; this module adds the ones of the application and the API.
"""

from __future__ import annotations

from pbx_kit.errors import DomainError, NotFoundError
from pbx_wallet.domain.wallet import ChargeNotFoundError as ChargeNotFoundError
from pbx_wallet.domain.wallet import TooManyPendingChargesError as TooManyPendingChargesError


class WalletNotFoundError(NotFoundError):
    """Raised when an account has no wallet (staff reads)."""

    code = "wallet_not_found"
    message_ja = "指定されたウォレットが見つかりません。"


class UnknownChargeNotificationError(NotFoundError):
    """Raised when a provider notification names a charge nobody requested."""

    code = "unknown_charge"
    message_ja = "通知されたチャージは存在しません。"


class InvalidSignatureError(DomainError):
    """Raised when a provider notification's signature is missing or wrong."""

    code = "invalid_signature"
    status = 401
    title = "Unauthorized"
    message_ja = "決済代行会社からの通知の署名を検証できませんでした。"


class StaleNotificationError(DomainError):
    """Raised when a provider notification's timestamp is too old (a replay) or ahead."""

    code = "stale_notification"
    status = 401
    title = "Unauthorized"
    message_ja = "決済代行会社からの通知の時刻が許容範囲外です（再送攻撃の可能性）。"


class CardDeclinedError(DomainError):
    """Raised when the card company refused a credit-card charge (nothing was charged)."""

    code = "card_declined"
    status = 402
    title = "Payment Required"
    message_ja = "クレジットカードの決済が承認されませんでした。別のカードをお試しください。"
