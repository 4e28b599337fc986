"""Cart routes (SPEC §5.2, API.md cart): the customer's own cart and its steps, the review,
the checkout. Thin: body → command → application → response. Writes take ``If-Match``
with the ETag of ``GET /carts/me``: a stale one is 412 and changes nothing."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pbx_cart import errors
from pbx_cart.application import CartService, Review, etag_version
from pbx_cart.commands import (
    AddLine,
    ChangeQuantity,
    ChooseDeviceSettings,
    ChoosePaymentMethod,
    RemoveLine,
    RequestCheckout,
    SaveShippingAddress,
)
from pbx_cart.domain.cart import Cart
from pbx_cart.domain.priced import PricedCart
from pbx_kit.auth import Caller, require_roles
from pbx_kit.jp.address import AddressIn, read_address
from pbx_kit.jp.phone import format_national
from pbx_kit.jp.prefectures import prefecture_name
from pbx_kit.problems import FieldProblem, RuleViolationError, problem_responses

router = APIRouter(tags=["cart"])
CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=64,
        description='the ETag of GET /carts/me (W/"<version>"): 412 cart_changed when stale',
    ),
]
_WRITE = problem_responses(401, 403, 404, 409, 412, s409="checkout in progress, not purchasable")
_READ = problem_responses(401, 403)


def get_app(request: Request) -> CartService:
    app: CartService = request.app.state.application
    return app


CartDep = Annotated[CartService, Depends(get_app)]


# -- shapes ---------------------------------------------------------------------------


class LineOut(BaseModel):
    line_id: str
    no: int = Field(description="No.")
    sku: str
    name: str
    billing_kind: Literal["one_time", "monthly", "shipping", "cancellation"]
    kind_name: str = Field(description="区分: 機器 / 月額 / 送料 / 解約")
    unit_price: int = Field(description="単価（税抜）; the monthly fee for monthly items")
    prorated_unit_price: int | None = Field(
        description="日割（税抜）: monthly items, for the contract month from today"
    )
    quantity: int
    subtotal: int = Field(description="小計（税抜）: (日割 or 単価) × 数量")
    tax_category: Literal["standard_10"]
    circle_id: str | None
    unique_id: str | None
    service_id: str | None = Field(description="cancellation items: the service they cancel")
    removable: bool = Field(description="false for the shipping line (added automatically)")
    max_quantity: int


class TaxOut(BaseModel):
    tax_category: str
    rate_percent: int
    taxable_amount: int
    tax: int


class TotalsOut(BaseModel):
    subtotal: int = Field(description="小計（税抜）")
    tax: int = Field(description="消費税: once per rate on its subtotal, 四捨五入")
    total: int = Field(description="合計（税込）")
    taxes: list[TaxOut]


class CartOut(BaseModel):
    version: int = Field(description="the cart's version, also the ETag")
    step: Literal["cart", "device_settings", "shipping_address", "payment_method", "review"] = (
        Field(description="the first step still to do")
    )
    lines: list[LineOut]
    totals: TotalsOut
    device_circle_id: str | None = Field(
        description="機器設定: the devices' circle (null: 設定無し)"
    )
    shipping_address: dict[str, Any] | None = Field(
        description="配送先: as saved, else the account's 送付先 (pre-filled)"
    )
    payment_method: Literal["prepaid"] | None
    checkout_in_progress: str | None = Field(description="the pending checkout's id")


class SummaryOut(BaseModel):
    line_count: int
    quantity: int
    total: int = Field(description="合計（税込）")


class LineIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(description="1 to the product's max_quantity (the pull-down: 1–10)")
    circle_id: UUID | None = Field(
        None,
        strict=False,  # a JSON string, read as a UUID
        description="monthly items: the circle it is for (one of the account's)",
    )
    service_id: UUID | None = Field(
        None,
        strict=False,
        description="cancellation items: the unique or phone number to cancel (the account's)",
    )


class QuantityIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    quantity: int


class DeviceSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circle_id: UUID | None = Field(description="a circle of the account, or null: 設定無し")
    uniques: dict[str, UUID | None] = Field(
        default_factory=dict,
        max_length=100,
        description="device line id → a unique in use in that circle, or null: 設定無し",
    )


class UniqueChoiceOut(BaseModel):
    unique_id: str
    name: str


class CircleChoiceOut(BaseModel):
    circle_id: str
    applied_on: str
    uniques: list[UniqueChoiceOut] = Field(description="the uniques in use in this circle")


class DeviceOut(BaseModel):
    line_id: str
    sku: str
    name: str
    unique_id: str | None


class DeviceSettingsOut(BaseModel):
    circle_id: str | None = Field(description="the devices' circle (null: 設定無し)")
    circles: list[CircleChoiceOut] = Field(description="the account's circles in use")
    devices: list[DeviceOut]


class PaymentMethodIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    method: Literal["prepaid"] = Field(description="prepaid only (プリペイド)")


class ReasonOut(BaseModel):
    code: str
    message: str


class ReviewOut(CartOut):
    balance: int = Field(description="spendable balance now")
    balance_after: int = Field(description="balance after this purchase (may be negative)")
    blockers: list[ReasonOut] = Field(description="what refuses the checkout now")
    warnings: list[ReasonOut] = Field(description="what does not refuse it")


class CheckoutOut(BaseModel):
    checkout_id: UUID
    status: Literal["pending", "placed", "rejected"]
    reason: str | None = None
    order_id: UUID | None = None
    warnings: list[ReasonOut] = []


_MESSAGES: dict[str, str] = {
    errors.EmptyCartError.code: errors.EmptyCartError.message_ja,
    errors.MixedBillingError.code: errors.MixedBillingError.message_ja,
    errors.ProductUnavailableError.code: errors.ProductUnavailableError.message_ja,
    errors.ShippingAddressRequiredError.code: errors.ShippingAddressRequiredError.message_ja,
    errors.OverseasShippingError.code: errors.OverseasShippingError.message_ja,
    errors.CheckoutInProgressError.code: errors.CheckoutInProgressError.message_ja,
    "insufficient_funds_expected": (
        "残高が不足する見込みです。ご注文の前にプリペイド残高へチャージしてください。"
    ),
    "screening_required": (
        "月額の商品のご利用には審査の承認が必要です。審査が承認されていない場合、"
        "ご注文は完了しません。"
    ),
}


def _reasons(codes: tuple[str, ...]) -> list[ReasonOut]:
    return [ReasonOut(code=c, message=_MESSAGES[c]) for c in codes]


def _cart_fields(app: CartService, cart: Cart, priced: PricedCart) -> dict[str, Any]:
    return {
        "version": etag_version(cart),
        "step": cart.step(),
        "lines": [
            LineOut(
                line_id=line.line_id,
                no=line.line_no,
                sku=line.sku,
                name=line.name,
                billing_kind=line.billing_kind,  # type: ignore[arg-type]
                kind_name=line.kind_name,
                unit_price=line.unit_price,
                prorated_unit_price=line.prorated_unit_price,
                quantity=line.quantity,
                subtotal=line.amount,
                tax_category=line.tax_category,  # type: ignore[arg-type]
                circle_id=line.circle_id,
                unique_id=line.unique_id,
                service_id=line.service_id,
                removable=line.removable,
                max_quantity=line.max_quantity,
            )
            for line in priced.lines
        ],
        "totals": TotalsOut(
            subtotal=priced.totals.subtotal,
            tax=priced.totals.tax,
            total=priced.totals.total,
            taxes=[TaxOut(**t.__dict__) for t in priced.totals.taxes],
        ),
        "device_circle_id": cart.device_circle_id,
        "shipping_address": address_view(app.shipping_address_for(cart)),
        "payment_method": cart.payment_method,
        "checkout_in_progress": cart.pending_checkout_id,
    }


def address_view(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """An address as a form shows it: the prefecture's name, the phone in national form."""
    if address is None:
        return None
    view = dict(address)
    if "prefecture_code" in address:
        view["prefecture"] = prefecture_name(str(address["prefecture_code"]))
    if address.get("phone_e164"):
        view["phone"] = format_national(str(address["phone_e164"]))
    return view


def _etag(cart: Cart) -> str:
    return f'W/"{etag_version(cart)}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match names (W/"7", "7" or 7); None when absent or "*"."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise errors.StaleCartError
    return int(text)


def _answer(app: CartService, account_id: UUID, response: Response) -> CartOut:
    cart = app.cart_of(account_id)
    response.headers["ETag"] = _etag(cart)
    return CartOut(**_cart_fields(app, cart, app.priced(cart)))


# -- routes ---------------------------------------------------------------------------------


@router.get("/carts/me", response_model=CartOut, responses=_READ)
def read_my_cart(caller: CustomerDep, app: CartDep, response: Response) -> CartOut:
    """カート内容の確認: the lines with 日割, the totals, the steps' choices; ETag."""
    return _answer(app, caller.subject_uuid, response)


@router.get("/carts/me/summary", response_model=SummaryOut, responses=_READ)
def my_cart_summary(caller: CustomerDep, app: CartDep) -> SummaryOut:
    """カートを見る (any page): the line count and the total."""
    priced = app.priced(app.cart_of(caller.subject_uuid))
    return SummaryOut(
        line_count=len(priced.lines),
        quantity=sum(line.quantity for line in priced.lines),
        total=priced.totals.total,
    )


@router.post("/carts/me/lines", response_model=CartOut, status_code=201, responses=_WRITE)
def add_line(
    body: LineIn, caller: CustomerDep, app: CartDep, response: Response, if_match: IfMatch = None
) -> CartOut:
    """Add a product (one already in the cart adds to its quantity)."""
    app.add_line(
        AddLine(
            caller.subject_uuid,
            body.sku,
            body.quantity,
            body.circle_id,
            expected_version(if_match),
            body.service_id,
        )
    )
    return _answer(app, caller.subject_uuid, response)


@router.patch("/carts/me/lines/{line_id}", response_model=CartOut, responses=_WRITE)
def change_line(
    line_id: Annotated[str, Path(max_length=64)],
    body: QuantityIn,
    caller: CustomerDep,
    app: CartDep,
    response: Response,
    if_match: IfMatch = None,
) -> CartOut:
    """変更を保存: a line's quantity."""
    app.change_quantity(
        ChangeQuantity(caller.subject_uuid, line_id, body.quantity, expected_version(if_match))
    )
    return _answer(app, caller.subject_uuid, response)


@router.delete("/carts/me/lines/{line_id}", response_model=CartOut, responses=_WRITE)
def delete_line(
    line_id: Annotated[str, Path(max_length=64)],
    caller: CustomerDep,
    app: CartDep,
    response: Response,
    if_match: IfMatch = None,
) -> CartOut:
    """削除: a line (the shipping line goes by itself with the last device)."""
    app.remove_line(RemoveLine(caller.subject_uuid, line_id, expected_version(if_match)))
    return _answer(app, caller.subject_uuid, response)


@router.get("/carts/me/device-settings", response_model=DeviceSettingsOut, responses=_READ)
def device_settings(caller: CustomerDep, app: CartDep) -> DeviceSettingsOut:
    """機器設定の確認: the choices (the account's circles in use and the uniques in each)
    and what each device is set to."""
    cart = app.cart_of(caller.subject_uuid)
    account = app.account_copy(caller.subject_uuid)
    circles = []
    if account is not None:
        for circle_id in account.active_circles():
            circles.append(
                CircleChoiceOut(
                    circle_id=circle_id,
                    applied_on=account.circles[circle_id]["applied_on"],
                    uniques=[
                        UniqueChoiceOut(unique_id=u, name=account.services[u]["name"])
                        for u in account.uniques_in(circle_id)
                    ],
                )
            )
    priced = app.priced(cart)
    return DeviceSettingsOut(
        circle_id=cart.device_circle_id,
        circles=circles,
        devices=[
            DeviceOut(line_id=x.line_id, sku=x.sku, name=x.name, unique_id=x.unique_id)
            for x in priced.lines
            if x.billing_kind == "one_time"
        ],
    )


@router.put("/carts/me/device-settings", response_model=CartOut, responses=_WRITE)
def choose_device_settings(
    body: DeviceSettingsIn,
    caller: CustomerDep,
    app: CartDep,
    response: Response,
    if_match: IfMatch = None,
) -> CartOut:
    """機器設定: a circle the account has for the devices, and per device a unique in use
    in it (null: 設定無し)."""
    app.choose_device_settings(
        ChooseDeviceSettings(
            caller.subject_uuid, body.circle_id, dict(body.uniques), expected_version(if_match)
        )
    )
    return _answer(app, caller.subject_uuid, response)


class ShippingAddressOut(CartOut):
    warnings: list[ReasonOut] = Field(
        description="postal_code_prefecture_mismatch, postal_code_not_found: saved all the same"
    )


@router.put(
    "/carts/me/shipping-address",
    response_model=ShippingAddressOut,
    responses=_WRITE,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AddressIn.model_json_schema()}},
        }
    },
)
def save_shipping_address(
    body: Annotated[dict[str, Any], Body(include_in_schema=False)],
    caller: CustomerDep,
    app: CartDep,
    response: Response,
    if_match: IfMatch = None,
) -> ShippingAddressOut:
    """配送先 ("next" saves it): every field required, read with registration's rules and
    Japanese messages; an overseas address is refused (only 国内配送料 is sold)."""
    address, problems, warnings = read_address(body, label_prefix="配送先の")
    if problems or address is None:
        raise RuleViolationError(
            "入力内容に誤りがあります。各項目をご確認ください。",
            errors=[FieldProblem(p.field, p.code, p.message) for p in problems],
        )
    if address["postal_code"] == "00000000":
        raise errors.OverseasShippingError
    app.save_shipping_address(
        SaveShippingAddress(caller.subject_uuid, address, expected_version(if_match))
    )
    cart = _answer(app, caller.subject_uuid, response)
    return ShippingAddressOut(
        **cart.model_dump(),
        warnings=[ReasonOut(code=w.code, message=w.message) for w in warnings],
    )


@router.put("/carts/me/payment-method", response_model=CartOut, responses=_WRITE)
def choose_payment_method(
    body: PaymentMethodIn,
    caller: CustomerDep,
    app: CartDep,
    response: Response,
    if_match: IfMatch = None,
) -> CartOut:
    """お支払方法: prepaid only."""
    app.choose_payment_method(
        ChoosePaymentMethod(caller.subject_uuid, body.method, expected_version(if_match))
    )
    return _answer(app, caller.subject_uuid, response)


def _review_out(app: CartService, review: Review) -> ReviewOut:
    return ReviewOut(
        **_cart_fields(app, review.cart, review.priced),
        balance=review.balance,
        balance_after=review.balance - review.priced.totals.total,
        blockers=_reasons(review.blockers),
        warnings=_reasons(review.warnings),
    )


@router.get("/carts/me/review", response_model=ReviewOut, responses=_READ)
def review_my_cart(caller: CustomerDep, app: CartDep, response: Response) -> ReviewOut:
    """ご注文内容の確認: lines, totals, address, device settings, the balance now and after,
    and what blocks the checkout."""
    review = app.review(caller.subject_uuid)
    response.headers["ETag"] = _etag(review.cart)
    return _review_out(app, review)


@router.post(
    "/carts/me/checkout",
    response_model=CheckoutOut,
    status_code=202,
    responses=problem_responses(
        401, 403, 409, 412, s409="mixed_billing, empty_cart, checkout_in_progress, …"
    ),
)
def checkout(caller: CustomerDep, app: CartDep, if_match: IfMatch = None) -> CheckoutOut:
    """ご注文の確定: 202 with the checkout's id; the saga decides (GET /checkouts/{id}).
    Send an Idempotency-Key: a repeat gets the same answer, never a second checkout."""
    checkout_id, warnings = app.request_checkout(
        RequestCheckout(caller.subject_uuid, uuid4(), expected_version(if_match))
    )
    return CheckoutOut(checkout_id=checkout_id, status="pending", warnings=_reasons(warnings))


@router.get(
    "/checkouts/{checkout_id}",
    response_model=CheckoutOut,
    responses=problem_responses(401, 403, 404, s404="no such checkout of yours"),
)
def read_checkout(checkout_id: UUID, caller: CustomerDep, app: CartDep) -> CheckoutOut:
    """pending | placed (the order has the checkout's id) | rejected with the reason."""
    cart = app.cart_of(caller.subject_uuid)
    status = cart.checkouts.get(str(checkout_id))
    if status is None:
        raise errors.CheckoutNotFoundError
    return CheckoutOut(
        checkout_id=checkout_id,
        status=status,  # type: ignore[arg-type]
        reason=cart.rejection_reasons.get(str(checkout_id)),
        order_id=checkout_id if status == "placed" else None,
    )
