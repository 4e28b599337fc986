"""The Cart aggregate: one per account, the lines a customer means to buy and the choices
of the six steps (SPEC §5.2). Lines hold a product and a quantity, never a price: prices
come from the cart's copy of the catalog when the cart is shown or checked out.

    open ──checkout──▶ checking out ──OrderPlaced──▶ open (emptied)
                                   └─CheckoutRejected─▶ open (as it was)

While a checkout is pending nothing in the cart changes, so the order is exactly what the
customer reviewed. The domestic shipping line is not stored: it is derived while the cart
holds a device (``pbx_cart.domain.pricing``), so the customer can never delete it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pbx_kit.errors import ConflictError, FieldProblem, NotFoundError, RuleViolationError

_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/cart/cart")

#: the id of the derived domestic shipping line (never stored: see the module docstring)
SHIPPING_LINE_ID = "shipping"


@dataclass(frozen=True)
class ProductFacts:
    """What the cart's copy of the catalog says of a product (given by the application)."""

    product_id: UUID
    sku: str
    billing_kind: str
    purchasable: bool
    max_quantity: int


class LineState(TypedDict):
    product_id: str
    sku: str
    billing_kind: str
    quantity: int
    #: monthly items: the circle they are bought for; devices: None
    circle_id: str | None
    #: devices: the unique they are set up with (None: 設定無し)
    unique_id: str | None
    #: cancellation items: the service (unique or phone number) they cancel
    service_id: str | None


class NotPurchasableError(ConflictError):
    code = "product_not_purchasable"
    message_ja = "この商品は現在ご購入いただけません。"


class QuantityError(RuleViolationError):
    code = "invalid_quantity"

    def __init__(self, max_quantity: int) -> None:
        message = f"数量は1から{max_quantity}までの範囲で指定してください。"
        super().__init__(message, errors=[FieldProblem("quantity", self.code, message)])


class ShippingNotAddableError(RuleViolationError):
    code = "shipping_added_automatically"
    message_ja = "送料は機器をカートに入れると自動で追加されます。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("sku", self.code, self.message_ja)])


class CircleRequiredError(RuleViolationError):
    code = "circle_required"
    message_ja = "月額の商品は、ご利用になるサークルを選択してください。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("circle_id", self.code, self.message_ja)])


class ServiceRequiredError(RuleViolationError):
    code = "service_required"
    message_ja = "解約する番号・ユニークを選択してください。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("service_id", self.code, self.message_ja)])


class LineNotFoundError(NotFoundError):
    code = "line_not_found"
    message_ja = "指定された明細はカートにありません。"


class ShippingLineAutomaticError(ConflictError):
    code = "shipping_line_automatic"
    message_ja = (
        "国内配送料は機器がカートにある間は自動で追加されます。"
        "機器をすべて削除すると、送料も削除されます。"
    )


class CheckoutInProgressError(ConflictError):
    code = "checkout_in_progress"
    message_ja = "ご注文の手続き中です。完了するまでカートは変更できません。"


class Cart(Aggregate):
    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return uuid5(_NAMESPACE, str(account_id))

    class Opened(Aggregate.Created):
        account_id: UUID

    @event(Opened)
    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.lines: dict[str, LineState] = {}
        #: device settings: the circle the devices are set up for (None: 設定無し)
        self.device_circle_id: str | None = None
        self.device_settings_chosen = False
        self.shipping_address: dict[str, Any] | None = None
        self.payment_method: str | None = None
        self.pending_checkout_id: str | None = None
        #: checkout id → "pending" | "placed" | "rejected"
        self.checkouts: dict[str, str] = {}
        self.rejection_reasons: dict[str, str] = {}

    # -- lines ---------------------------------------------------------------------------

    def _open(self) -> None:
        if self.pending_checkout_id is not None:
            raise CheckoutInProgressError(checkout_id=self.pending_checkout_id)

    def _same_line(
        self, product_id: UUID, circle_id: UUID | None, service_id: UUID | None
    ) -> str | None:
        circle = str(circle_id) if circle_id else None
        service = str(service_id) if service_id else None
        for line_id, line in self.lines.items():
            if (line["product_id"], line["circle_id"], line.get("service_id")) == (
                str(product_id),
                circle,
                service,
            ):
                return line_id
        return None

    def add(
        self,
        line_id: UUID,
        product: ProductFacts,
        quantity: int,
        circle_id: UUID | None = None,
        service_id: UUID | None = None,
    ) -> str:
        """Add a product; one already in the cart (for the same circle, or cancelling the
        same service) adds to its quantity. Returns the id of the line it is on.

        Monthly items name the circle they are for; a cancellation item names the service it
        cancels (checked to be the account's by the caller), once."""
        self._open()
        if product.billing_kind == "shipping":
            raise ShippingNotAddableError
        if not product.purchasable:
            raise NotPurchasableError(sku=product.sku)
        if product.billing_kind == "monthly" and circle_id is None:
            raise CircleRequiredError
        if product.billing_kind == "cancellation" and service_id is None:
            raise ServiceRequiredError
        if product.billing_kind != "monthly":
            circle_id = None  # devices get theirs in the device settings
        if product.billing_kind != "cancellation":
            service_id = None
        existing = self._same_line(product.product_id, circle_id, service_id)
        total = quantity + (self.lines[existing]["quantity"] if existing else 0)
        limit = 1 if product.billing_kind == "cancellation" else product.max_quantity
        if quantity < 1 or total > limit:
            raise QuantityError(limit)
        if existing is not None:
            self._quantity_changed(existing, total)
            return existing
        self._line_added(
            str(line_id),
            str(product.product_id),
            product.sku,
            product.billing_kind,
            quantity,
            str(circle_id) if circle_id else None,
            str(service_id) if service_id else None,
        )
        return str(line_id)

    class LineAdded(Aggregate.Event):
        line_id: str
        product_id: str
        sku: str
        billing_kind: str
        quantity: int
        circle_id: str | None
        service_id: str | None

    @event(LineAdded)
    def _line_added(
        self,
        line_id: str,
        product_id: str,
        sku: str,
        billing_kind: str,
        quantity: int,
        circle_id: str | None,
        service_id: str | None,
    ) -> None:
        self.lines[line_id] = LineState(
            product_id=product_id,
            sku=sku,
            billing_kind=billing_kind,
            quantity=quantity,
            circle_id=circle_id,
            unique_id=None,
            service_id=service_id,
        )

    def change_quantity(self, line_id: str, quantity: int, product: ProductFacts) -> None:
        """ "Save changes" (変更を保存) for one line: 1 to the product's maximum."""
        self._open()
        line = self._line(line_id)
        limit = 1 if line["billing_kind"] == "cancellation" else product.max_quantity
        if not 1 <= quantity <= limit:
            raise QuantityError(limit)
        if quantity != line["quantity"]:
            self._quantity_changed(line_id, quantity)

    class QuantityChanged(Aggregate.Event):
        line_id: str
        quantity: int

    @event(QuantityChanged)
    def _quantity_changed(self, line_id: str, quantity: int) -> None:
        self.lines[line_id]["quantity"] = quantity

    def remove(self, line_id: str) -> None:
        self._open()
        if line_id == SHIPPING_LINE_ID and self.has_devices():
            raise ShippingLineAutomaticError
        self._line(line_id)
        self._line_removed(line_id)

    class LineRemoved(Aggregate.Event):
        line_id: str

    @event(LineRemoved)
    def _line_removed(self, line_id: str) -> None:
        del self.lines[line_id]
        if not self.has_devices():
            self.device_circle_id = None

    def _line(self, line_id: str) -> LineState:
        try:
            return self.lines[line_id]
        except KeyError:
            raise LineNotFoundError(line_id=line_id) from None

    # -- what the rules look at --------------------------------------------------------

    def step(self) -> str:
        """The first step still to do: cart (no lines), device_settings, shipping_address
        (devices only), payment_method, then review."""
        if not self.lines:
            return "cart"
        if self.has_devices() and not self.device_settings_chosen:
            return "device_settings"
        if self.has_devices() and self.shipping_address is None:
            return "shipping_address"
        if self.payment_method is None:
            return "payment_method"
        return "review"

    def kinds(self) -> set[str]:
        return {line["billing_kind"] for line in self.lines.values()}

    def has_devices(self) -> bool:
        return "one_time" in self.kinds()

    # -- the steps -----------------------------------------------------------------------

    def choose_device_settings(
        self, circle_id: UUID | None, uniques: dict[str, UUID | None]
    ) -> None:
        """機器設定: a circle for the cart's devices (None: 設定無し) and, per device line, a
        unique of that circle (None: 設定無し). Checked against the account by the caller."""
        self._open()
        for line_id in uniques:
            if self._line(line_id)["billing_kind"] != "one_time":
                raise LineNotFoundError(line_id=line_id)
        chosen = {k: (str(v) if v and circle_id else None) for k, v in uniques.items()}
        circle = str(circle_id) if circle_id else None
        current = {k: self.lines[k]["unique_id"] for k in chosen}
        unchanged = circle == self.device_circle_id and chosen == current
        if not self.device_settings_chosen or not unchanged:
            self._device_settings_chosen(circle, chosen)

    class DeviceSettingsChosen(Aggregate.Event):
        circle_id: str | None
        uniques: dict[str, str | None]

    @event(DeviceSettingsChosen)
    def _device_settings_chosen(
        self, circle_id: str | None, uniques: dict[str, str | None]
    ) -> None:
        self.device_circle_id = circle_id
        self.device_settings_chosen = True
        for line_id, line in self.lines.items():
            if line["billing_kind"] == "one_time":
                line["unique_id"] = uniques.get(line_id) if circle_id else None

    def save_shipping_address(self, address: dict[str, Any]) -> None:
        """配送先: validated by the caller with registration's rules; "next" saves it."""
        self._open()
        if address != self.shipping_address:
            self._shipping_address_saved(dict(address))

    class ShippingAddressSaved(Aggregate.Event):
        address: dict[str, Any]

    @event(ShippingAddressSaved)
    def _shipping_address_saved(self, address: dict[str, Any]) -> None:
        self.shipping_address = address

    def choose_payment_method(self, method: str) -> None:
        self._open()
        if method != self.payment_method:
            self._payment_method_chosen(method)

    class PaymentMethodChosen(Aggregate.Event):
        method: str

    @event(PaymentMethodChosen)
    def _payment_method_chosen(self, method: str) -> None:
        self.payment_method = method

    # -- the checkout ----------------------------------------------------------------------

    def start_checkout(self, checkout_id: UUID, request: dict[str, Any]) -> None:
        """The checkout was requested with ``request``, the priced cart the saga decides on
        (the refusals up front are the application's)."""
        self._open()
        self._checkout_started(str(checkout_id), request)

    class CheckoutStarted(Aggregate.Event):
        checkout_id: str
        #: what cart.CheckoutRequested.v1 carries (lines, address, totals, start date)
        request: dict[str, Any]

    @event(CheckoutStarted)
    def _checkout_started(self, checkout_id: str, request: dict[str, Any]) -> None:
        self.pending_checkout_id = checkout_id
        self.checkouts[checkout_id] = "pending"

    def order_placed(self, checkout_id: str) -> bool:
        """The saga placed the order: the cart is emptied. True when this changed it."""
        if self.checkouts.get(checkout_id) != "pending":
            return False
        self._emptied_by_order(checkout_id)
        return True

    class EmptiedByOrder(Aggregate.Event):
        checkout_id: str

    @event(EmptiedByOrder)
    def _emptied_by_order(self, checkout_id: str) -> None:
        self.checkouts[checkout_id] = "placed"
        self.pending_checkout_id = None
        self.lines = {}
        self.device_circle_id = None
        self.device_settings_chosen = False

    def checkout_rejected(self, checkout_id: str, reason: str) -> bool:
        """The saga refused: the cart stays exactly as it was. True when this changed it."""
        if self.checkouts.get(checkout_id) != "pending":
            return False
        self._checkout_ended_rejected(checkout_id, reason)
        return True

    class CheckoutEndedRejected(Aggregate.Event):
        checkout_id: str
        reason: str

    @event(CheckoutEndedRejected)
    def _checkout_ended_rejected(self, checkout_id: str, reason: str) -> None:
        self.checkouts[checkout_id] = "rejected"
        self.rejection_reasons[checkout_id] = reason
        self.pending_checkout_id = None
