"""Maps catalog domain events to integration events, each with the product's whole state.

The state is the product *at that event's version* (loaded from the event
store), so a re-publish after a crash sends exactly the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_catalog.domain.product import Product
from pbx_events.catalog import ProductChanged, ProductDiscontinued, ProductPublished, ProductState
from pbx_events.contracts import IntegrationEvent
from pbx_events.store import ServiceApplication

_CHANGED: dict[type[Product.Event], str] = {
    Product.PriceChanged: "price",
    Product.DetailsChanged: "details",
    Product.StatusChanged: "status",
}


def state_of(product: Product) -> ProductState:
    return ProductState(
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        category=product.category,
        billing_kind=product.billing_kind,  # type: ignore[arg-type]
        unit_price=product.unit_price,
        tax_category=product.tax_category,  # type: ignore[arg-type]
        status=product.status,  # type: ignore[arg-type]
        purchasable=product.purchasable,
        max_quantity=product.max_quantity,
        warranty_months=product.warranty_months,
        version=product.version,
    )


class CatalogMapping:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def _at(self, domain_event: Any) -> ProductState:
        product: Product = self.app.repository.get(
            domain_event.originator_id, version=domain_event.originator_version
        )
        return state_of(product)

    def __call__(self, domain_event: Any) -> Sequence[IntegrationEvent]:
        at = domain_event.timestamp
        if isinstance(domain_event, Product.Published):
            return [ProductPublished(product=self._at(domain_event), occurred_at=at)]
        if isinstance(domain_event, Product.Discontinued):
            return [ProductDiscontinued(product=self._at(domain_event), occurred_at=at)]
        for cls, what in _CHANGED.items():
            if isinstance(domain_event, cls):
                return [
                    ProductChanged(product=self._at(domain_event), changed=[what], occurred_at=at)
                ]
        return []
