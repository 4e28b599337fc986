"""The catalog application: the only place products are loaded and saved."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from pbx_catalog.commands import ChangeProduct, PublishProduct
from pbx_catalog.domain.product import CATEGORIES, Product
from pbx_catalog.errors import ProductExistsError, ProductNotFoundError, StaleProductError
from pbx_events.store import ServiceApplication


def seed_data() -> dict[str, Any]:
    """The shipped seed (categories and products)."""
    text = resources.files("pbx_catalog").joinpath("data/seed.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def publish_command(item: dict[str, Any]) -> PublishProduct:
    return PublishProduct(
        sku=item["sku"],
        name=item["name"],
        category=item["category"],
        billing_kind=item["billing_kind"],
        unit_price=int(item["unit_price"]),
        tax_category=item["tax_category"],
        status=item["status"],
        specs=tuple(item.get("specs", ())),
        warranty_months=int(item.get("warranty_months", 0)),
        notes=tuple(item.get("notes", ())),
        max_quantity=int(item.get("max_quantity", 10)),
        image=dict(item.get("image", {})),
    )


class CatalogService(ServiceApplication):
    name = "catalog"

    def get_product(self, sku: str) -> Product:
        try:
            product: Product = self.repository.get(Product.create_id(sku))
        except AggregateNotFoundError:
            raise ProductNotFoundError from None
        return product

    def sku_of(self, product_id: UUID) -> str:
        product: Product = self.repository.get(product_id)
        return product.sku

    def publish_product(self, cmd: PublishProduct) -> Product:
        """Put a new product in the catalog; a taken SKU is refused."""
        product = Product(
            sku=cmd.sku,
            name=cmd.name,
            category=cmd.category,
            billing_kind=cmd.billing_kind,
            unit_price=cmd.unit_price,
            tax_category=cmd.tax_category,
            status=cmd.status,
            specs=list(cmd.specs),
            warranty_months=cmd.warranty_months,
            notes=list(cmd.notes),
            max_quantity=cmd.max_quantity,
            image=cmd.image,
        )
        try:
            self.save(product)
        except IntegrityError:
            raise ProductExistsError from None
        return product

    def change_product(self, cmd: ChangeProduct) -> Product:
        """Change price, status or details of the version the caller saw (409 when stale)."""
        product = self.get_product(cmd.sku)
        if product.version != cmd.expected_version:
            raise StaleProductError
        if cmd.details:
            product.change_details(cmd.details)
        if cmd.unit_price is not None:
            product.change_price(cmd.unit_price)
        if cmd.status is not None:
            product.change_status(cmd.status)
        try:
            self.save(product)
        except IntegrityError:
            raise StaleProductError from None
        return product

    def load_seed(self, data: dict[str, Any] | None = None) -> int:
        """Publish every seeded product not in the catalog yet; returns how many were new."""
        data = data if data is not None else seed_data()
        unknown = {c["code"] for c in data["categories"]} - set(CATEGORIES)
        if unknown:
            raise ValueError(f"seed names unknown categories: {sorted(unknown)}")
        created = 0
        for item in data["products"]:
            try:
                self.get_product(item["sku"])
            except ProductNotFoundError:
                try:
                    self.publish_product(publish_command(item))
                except ProductExistsError:
                    continue  # another process seeded it meanwhile
                created += 1
        return created
