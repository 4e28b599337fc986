"""The cart application: the only place carts and the cart's copies are loaded and saved.

Customer changes are load → decide → save on the account's Cart, refused with 412 when
the caller saw an older version (two browser tabs). The copies of other services' facts
are changed by the consumers through the inbox. A checkout is priced here from the copies
and recorded on the cart with everything the saga needs (``CheckoutStarted``), which the
relay publishes as ``cart.CheckoutRequested.v1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError

from pbx_cart import errors
from pbx_cart.commands import (
    AddLine,
    ChangeQuantity,
    ChooseDeviceSettings,
    ChoosePaymentMethod,
    RemoveLine,
    RequestCheckout,
    SaveShippingAddress,
)
from pbx_cart.domain.cart import Cart, ProductFacts
from pbx_cart.domain.copies import AccountCopy, ProductCopy
from pbx_cart.domain.priced import PricedCart, price_cart
from pbx_cart.domain.pricing import mixes_billing
from pbx_events.store import ServiceApplication

T = TypeVar("T")
JST = ZoneInfo("Asia/Tokyo")
MAX_ATTEMPTS = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Review:
    """ご注文内容の確認: what the customer confirms, and what blocks the checkout."""

    cart: Cart
    priced: PricedCart
    account: AccountCopy | None
    #: codes that refuse the checkout now (mixed_billing, empty_cart, …)
    blockers: tuple[str, ...]
    #: codes that do not refuse it (insufficient_funds_expected, screening_required)
    warnings: tuple[str, ...]

    @property
    def balance(self) -> int:
        return self.account.balance if self.account else 0


class CartService(ServiceApplication):
    name = "cart"

    def __init__(self, env: dict[str, str], *, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(env=env)
        self.clock = clock

    def today(self) -> date:
        return self.clock().astimezone(JST).date()

    # -- the copies (the consumers) ------------------------------------------------------

    def copy_product(self, state: dict[str, Any]) -> None:
        product_id = UUID(str(state["product_id"]))

        def load() -> ProductCopy | None:
            try:
                copy: ProductCopy = self.repository.get(product_id)
            except AggregateNotFoundError:
                return None
            return copy

        def decide(copy: ProductCopy | None) -> ProductCopy:
            if copy is None:
                return ProductCopy(state)
            copy.update(state)
            return copy

        self._change_or_create(load, decide)

    def account_copy(self, account_id: UUID) -> AccountCopy | None:
        try:
            copy: AccountCopy = self.repository.get(AccountCopy.create_id(account_id))
        except AggregateNotFoundError:
            return None
        return copy

    def change_account_copy(self, account_id: UUID, decide: Callable[[AccountCopy], Any]) -> None:
        def load() -> AccountCopy:
            return self.account_copy(account_id) or AccountCopy(account_id)

        self.change(load, decide, attempts=MAX_ATTEMPTS)

    def _change_or_create(self, load: Callable[[], Any], decide: Callable[[Any], Any]) -> None:
        self.change(lambda: decide(load()), lambda aggregate: aggregate, attempts=MAX_ATTEMPTS)

    def products(self, product_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for product_id in product_ids:
            try:
                copy: ProductCopy = self.repository.get(UUID(product_id))
            except AggregateNotFoundError:
                continue
            found[product_id] = copy.state
        return found

    def product_by_sku(self, sku: str) -> dict[str, Any]:
        for state in self.all_products().values():
            if state["sku"] == sku:
                return state
        raise errors.ProductNotFoundError

    def all_products(self) -> dict[str, dict[str, Any]]:
        """Every product copy (the catalog is small: tens of products)."""
        found: dict[str, dict[str, Any]] = {}
        for product_id in self.product_ids:
            copy: ProductCopy = self.repository.get(product_id)
            found[str(product_id)] = copy.state
        return found

    @property
    def product_ids(self) -> list[UUID]:
        """The products the cart has a copy of (each copy's first event, by topic)."""
        topic = f"{ProductCopy.__module__}:{ProductCopy.__qualname__}.Copied"
        notifications = self.recorder.select_notifications(
            start=None, limit=1_000_000, topics=[topic]
        )
        return [UUID(str(n.originator_id)) for n in notifications]

    # -- the cart --------------------------------------------------------------------------

    def cart_of(self, account_id: UUID) -> Cart:
        """The account's cart (an empty, unsaved one before its first change)."""
        try:
            cart: Cart = self.repository.get(Cart.create_id(account_id))
        except AggregateNotFoundError:
            return Cart(account_id)
        return cart

    def priced(self, cart: Cart) -> PricedCart:
        wanted = [line["product_id"] for line in cart.lines.values()]
        products = self.products(wanted)
        if cart.has_devices():
            products.update(
                {k: v for k, v in self.all_products().items() if v["billing_kind"] == "shipping"}
            )
        return price_cart(cart, products, self.today())

    def _change_cart(
        self, account_id: UUID, expected_version: int | None, decide: Callable[[Cart], T]
    ) -> T:
        def checked(cart: Cart) -> T:
            if expected_version is not None and etag_version(cart) != expected_version:
                raise errors.StaleCartError
            return decide(cart)

        return self.change(lambda: self.cart_of(account_id), checked, attempts=MAX_ATTEMPTS)

    @staticmethod
    def _facts(state: dict[str, Any]) -> ProductFacts:
        return ProductFacts(
            product_id=UUID(str(state["product_id"])),
            sku=str(state["sku"]),
            billing_kind=str(state["billing_kind"]),
            purchasable=bool(state["purchasable"]),
            max_quantity=int(state["max_quantity"]),
        )

    def add_line(self, cmd: AddLine) -> str:
        product = self._facts(self.product_by_sku(cmd.sku))
        if cmd.circle_id is not None:
            account = self.account_copy(cmd.account_id)
            if account is None or str(cmd.circle_id) not in account.active_circles():
                raise errors.CircleUnknownError
        if cmd.service_id is not None:
            account = self.account_copy(cmd.account_id)
            service = account.services.get(str(cmd.service_id)) if account else None
            if service is None or not service["active"]:
                raise errors.ServiceUnknownError
        line_id = uuid4()
        return self._change_cart(
            cmd.account_id,
            cmd.expected_version,
            lambda cart: cart.add(line_id, product, cmd.quantity, cmd.circle_id, cmd.service_id),
        )

    def change_quantity(self, cmd: ChangeQuantity) -> None:
        def decide(cart: Cart) -> None:
            line = cart.lines.get(cmd.line_id)
            if line is None:
                raise errors.LineNotFoundError
            state = self.products([line["product_id"]]).get(line["product_id"])
            if state is None:
                raise errors.ProductNotFoundError
            cart.change_quantity(cmd.line_id, cmd.quantity, self._facts(state))

        self._change_cart(cmd.account_id, cmd.expected_version, decide)

    def remove_line(self, cmd: RemoveLine) -> None:
        self._change_cart(
            cmd.account_id, cmd.expected_version, lambda cart: cart.remove(cmd.line_id)
        )

    def choose_device_settings(self, cmd: ChooseDeviceSettings) -> None:
        account = self.account_copy(cmd.account_id)
        if cmd.circle_id is not None:
            circle = str(cmd.circle_id)
            if account is None or circle not in account.active_circles():
                raise errors.CircleUnknownError
            for line_id, unique in cmd.uniques.items():
                if unique is not None and str(unique) not in account.uniques_in(circle):
                    raise errors.UniqueUnknownError(f"uniques.{line_id}")
        self._change_cart(
            cmd.account_id,
            cmd.expected_version,
            lambda cart: cart.choose_device_settings(cmd.circle_id, dict(cmd.uniques)),
        )

    def save_shipping_address(self, cmd: SaveShippingAddress) -> None:
        self._change_cart(
            cmd.account_id,
            cmd.expected_version,
            lambda cart: cart.save_shipping_address(cmd.address),
        )

    def choose_payment_method(self, cmd: ChoosePaymentMethod) -> None:
        self._change_cart(
            cmd.account_id,
            cmd.expected_version,
            lambda cart: cart.choose_payment_method(cmd.method),
        )

    def shipping_address_for(self, cart: Cart) -> dict[str, Any] | None:
        """What the shipping step shows: what was saved, else the account's 送付先."""
        if cart.shipping_address is not None:
            return cart.shipping_address
        account = self.account_copy(cart.account_id)
        return account.shipping_address if account else None

    # -- the review and the checkout -------------------------------------------------------

    def review(self, account_id: UUID) -> Review:
        return self._review(self.cart_of(account_id))

    def _review(self, cart: Cart) -> Review:
        priced = self.priced(cart)
        account = self.account_copy(cart.account_id)
        blockers: list[str] = []
        if not cart.lines:
            blockers.append(errors.EmptyCartError.code)
        if mixes_billing(cart.kinds()):
            blockers.append(errors.MixedBillingError.code)
        if priced.unknown_products or any(not line.purchasable for line in priced.lines):
            blockers.append(errors.ProductUnavailableError.code)
        if cart.has_devices():
            address = self.shipping_address_for(cart)
            if address is None:
                blockers.append(errors.ShippingAddressRequiredError.code)
            elif address.get("postal_code") == "00000000":
                blockers.append(errors.OverseasShippingError.code)
        if cart.pending_checkout_id is not None:
            blockers.append(errors.CheckoutInProgressError.code)
        warnings: list[str] = []
        balance = account.balance if account else 0
        if cart.lines and balance < priced.totals.total:
            warnings.append("insufficient_funds_expected")
        if "monthly" in cart.kinds() and (account is None or account.screening != "approved"):
            warnings.append("screening_required")
        return Review(cart, priced, account, tuple(blockers), tuple(warnings))

    def request_checkout(self, cmd: RequestCheckout) -> tuple[UUID, tuple[str, ...]]:
        """Record the checkout with the priced cart; the relay publishes CheckoutRequested.
        Refused up front (nothing changed) for what the review shows as blocking."""
        now = self.clock()
        start = now.astimezone(JST).date()

        def decide(cart: Cart) -> tuple[UUID, tuple[str, ...]]:
            review = self._review(cart)
            _refuse(review.blockers)
            priced = review.priced
            address = self.shipping_address_for(cart) if cart.has_devices() else None
            screening = review.account.screening if review.account else "none"
            request = _request(cmd, cart, priced, address, start, now)
            cart.start_checkout(cmd.checkout_id, {**request, "screening_seen": screening})
            return cmd.checkout_id, review.warnings

        return self._change_cart(cmd.account_id, cmd.expected_version, decide)

    # -- the saga's answers ----------------------------------------------------------------

    def order_placed(self, account_id: UUID, checkout_id: UUID) -> None:
        self.change(
            lambda: self.cart_of(account_id),
            lambda cart: cart.order_placed(str(checkout_id)),
            attempts=MAX_ATTEMPTS,
        )

    def checkout_rejected(self, account_id: UUID, checkout_id: UUID, reason: str) -> None:
        self.change(
            lambda: self.cart_of(account_id),
            lambda cart: cart.checkout_rejected(str(checkout_id), reason),
            attempts=MAX_ATTEMPTS,
        )


_REFUSALS: dict[str, type[Exception]] = {
    errors.EmptyCartError.code: errors.EmptyCartError,
    errors.MixedBillingError.code: errors.MixedBillingError,
    errors.ProductUnavailableError.code: errors.ProductUnavailableError,
    errors.ShippingAddressRequiredError.code: errors.ShippingAddressRequiredError,
    errors.OverseasShippingError.code: errors.OverseasShippingError,
    errors.CheckoutInProgressError.code: errors.CheckoutInProgressError,
}


def _refuse(blockers: tuple[str, ...]) -> None:
    for code in blockers:
        raise _REFUSALS[code]()


def etag_version(cart: Cart) -> int:
    """The version a client sees in the ETag: 0 before the cart's first change (a saved
    cart has its Opened event and at least one change)."""
    return 0 if cart.version <= 1 else int(cart.version)


def _request(
    cmd: RequestCheckout,
    cart: Cart,
    priced: PricedCart,
    address: dict[str, Any] | None,
    start: date,
    now: datetime,
) -> dict[str, Any]:
    """The CheckoutRequested payload (pbx_events.cart), as plain data for the event."""
    return {
        "checkout_id": str(cmd.checkout_id),
        "account_id": str(cmd.account_id),
        "cart_id": str(cart.id),
        "cart_version": etag_version(cart) or 1,
        "start_date": start.isoformat(),
        "payment_method": cart.payment_method or "prepaid",
        "lines": [
            {
                "line_no": line.line_no,
                "product_id": line.product_id,
                "product_version": line.product_version,
                "sku": line.sku,
                "name": line.name,
                "billing_kind": line.billing_kind,
                "unit_price": line.unit_price,
                "prorated_unit_price": line.prorated_unit_price,
                "quantity": line.quantity,
                "amount": line.amount,
                "tax_category": line.tax_category,
                "circle_id": line.circle_id,
                "unique_id": line.unique_id,
                "service_id": line.service_id,
            }
            for line in priced.lines
        ],
        "shipping_address": address,
        "totals": {
            "subtotal": priced.totals.subtotal,
            "taxes": [
                {
                    "tax_category": t.tax_category,
                    "rate_percent": t.rate_percent,
                    "taxable_amount": t.taxable_amount,
                    "tax": t.tax,
                }
                for t in priced.totals.taxes
            ],
            "tax": priced.totals.tax,
            "total": priced.totals.total,
        },
        "requested_at": now.isoformat(),
    }
