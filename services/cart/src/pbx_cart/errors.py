"""The cart's errors (problem+json through the kit's handler). The cart's own refusals are
raised by the aggregate (``pbx_cart.domain.cart``) and re-exported here."""

from __future__ import annotations

from pbx_cart.domain.cart import CheckoutInProgressError as CheckoutInProgressError
from pbx_cart.domain.cart import CircleRequiredError as CircleRequiredError
from pbx_cart.domain.cart import LineNotFoundError as LineNotFoundError
from pbx_cart.domain.cart import NotPurchasableError as NotPurchasableError
from pbx_cart.domain.cart import QuantityError as QuantityError
from pbx_cart.domain.cart import ShippingNotAddableError as ShippingNotAddableError
from pbx_kit.errors import (
    ConflictError,
    DomainError,
    FieldProblem,
    NotFoundError,
    RuleViolationError,
)


class ProductNotFoundError(RuleViolationError):
    code = "unknown_product"
    message_ja = "指定された商品は見つかりません。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("sku", self.code, self.message_ja)])


class StaleCartError(DomainError):
    """The cart changed since the caller read it (another browser tab): 412."""

    code = "cart_changed"
    status = 412
    title = "Precondition Failed"
    message_ja = (
        "カートの内容が別の画面で変更されました。最新の内容を表示してからやり直してください。"
    )


class CircleUnknownError(RuleViolationError):
    code = "circle_unknown"
    message_ja = "選択されたサークルはご利用中のサークルではありません。"

    def __init__(self, field: str = "circle_id") -> None:
        super().__init__(errors=[FieldProblem(field, self.code, self.message_ja)])


class UniqueUnknownError(RuleViolationError):
    code = "unique_unknown"
    message_ja = "選択されたユニークは、このサークルでご利用中のユニークではありません。"

    def __init__(self, field: str) -> None:
        super().__init__(errors=[FieldProblem(field, self.code, self.message_ja)])


class ServiceUnknownError(RuleViolationError):
    code = "service_unknown"
    message_ja = "指定された番号・ユニークはご利用中のものではありません。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("service_id", self.code, self.message_ja)])


class EmptyCartError(ConflictError):
    code = "empty_cart"
    message_ja = "カートに商品がありません。"


class MixedBillingError(ConflictError):
    code = "mixed_billing"
    message_ja = (
        "月額の商品・解約の商品と機器は同時にご購入いただけません。"
        "お手数ですが、別々にご注文ください。"
    )


class ShippingAddressRequiredError(ConflictError):
    code = "shipping_address_required"
    message_ja = "機器の配送先を入力してください。"


class OverseasShippingError(RuleViolationError):
    code = "overseas_shipping_not_available"
    message_ja = (
        "機器の配送は国内のみです（国内配送料のみのお取り扱いです）。"
        "国内の配送先を入力してください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("postal_code", self.code, self.message_ja)])


class ProductUnavailableError(ConflictError):
    code = "product_unavailable"
    message_ja = "カートに購入できなくなった商品があります。削除してからご注文ください。"


class CheckoutNotFoundError(NotFoundError):
    code = "checkout_not_found"
    message_ja = "指定されたご注文手続きが見つかりません。"
