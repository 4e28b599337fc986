"""The Product aggregate: what the shop sells, at which tax-excluded price, in which state.

Products are keyed by SKU (the id is derived from it), so loading the seed twice
finds the products it made the first time instead of making new ones.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/catalog/product")

CATEGORIES: dict[str, str] = {
    "voip_phone": "VoIP電話機",
    "voip_adapter": "VoIPアダプタ",
    "network": "ネットワーク",
    "headset": "ヘッドセット",
    "type_e": "タイプE",
    "de_monthly": "D+Eマンスリー",
    "unverified": "未検証",
    "discontinued": "販売終了",
}
BILLING_KINDS = ("one_time", "monthly", "shipping", "cancellation")
STATUSES = ("on_sale", "unverified", "discontinued")
TAX_CATEGORIES = ("standard_10",)
#: the details an administrator can change besides price and status
DETAIL_FIELDS = (
    "name",
    "category",
    "specs",
    "warranty_months",
    "notes",
    "max_quantity",
    "image",
    "tax_category",
)


class Product(Aggregate):
    @staticmethod
    def create_id(sku: str) -> UUID:
        return uuid5(_NAMESPACE, sku)

    class Published(Aggregate.Created):
        sku: str
        name: str
        category: str
        billing_kind: str
        unit_price: int
        tax_category: str
        status: str
        specs: list[str]
        warranty_months: int
        notes: list[str]
        max_quantity: int
        image: dict[str, str]

    @event(Published)
    def __init__(
        self,
        sku: str,
        name: str,
        category: str,
        billing_kind: str,
        unit_price: int,
        tax_category: str,
        status: str,
        specs: list[str],
        warranty_months: int,
        notes: list[str],
        max_quantity: int,
        image: dict[str, str],
    ) -> None:
        self.sku = sku
        self.name = name
        self.category = category
        self.billing_kind = billing_kind
        self.unit_price = unit_price  # integer yen, tax excluded (税抜)
        self.tax_category = tax_category
        self.status = status
        self.specs = list(specs)
        self.warranty_months = warranty_months
        self.notes = list(notes)
        self.max_quantity = max_quantity
        self.image = dict(image)

    @property
    def purchasable(self) -> bool:
        """Discontinued products are listed but cannot be bought."""
        return self.status != "discontinued"

    def change_price(self, unit_price: int) -> None:
        if unit_price != self.unit_price:
            self._price_changed(unit_price)

    class PriceChanged(Aggregate.Event):
        unit_price: int

    @event(PriceChanged)
    def _price_changed(self, unit_price: int) -> None:
        self.unit_price = unit_price

    def change_details(self, details: dict[str, Any]) -> None:
        """Change name, category, specs, warranty, notes, limit, image (only what differs)."""
        changed = {k: v for k, v in details.items() if getattr(self, k) != v}
        if changed:
            self._details_changed(changed)

    class DetailsChanged(Aggregate.Event):
        details: dict[str, Any]

    @event(DetailsChanged)
    def _details_changed(self, details: dict[str, Any]) -> None:
        for key, value in details.items():
            setattr(self, key, value)

    def change_status(self, status: str) -> None:
        if status == self.status:
            return
        if status == "discontinued":
            self._discontinued()
        else:
            self._status_changed(status)

    class StatusChanged(Aggregate.Event):
        status: str

    @event(StatusChanged)
    def _status_changed(self, status: str) -> None:
        self.status = status

    class Discontinued(Aggregate.Event):
        """The product is no longer sold (no attributes)."""

    @event(Discontinued)
    def _discontinued(self) -> None:
        self.status = "discontinued"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "billing_kind": self.billing_kind,
            "unit_price": self.unit_price,
            "tax_category": self.tax_category,
            "status": self.status,
            "specs": list(self.specs),
            "warranty_months": self.warranty_months,
            "notes": list(self.notes),
            "max_quantity": self.max_quantity,
            "image": dict(self.image),
            "purchasable": self.purchasable,
            "version": self.version,
        }
