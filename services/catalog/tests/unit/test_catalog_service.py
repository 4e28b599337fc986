"""The catalog application on the in-memory store: publish, change, stale versions,
and the integration events the relay would send."""

from __future__ import annotations

import pytest

from pbx_catalog.application import CatalogService
from pbx_catalog.commands import ChangeProduct, PublishProduct
from pbx_catalog.errors import ProductExistsError, ProductNotFoundError, StaleProductError
from pbx_catalog.integration import CatalogMapping
from pbx_events.catalog import ProductChanged, ProductDiscontinued, ProductPublished


def gxp1400() -> PublishProduct:
    return PublishProduct(
        sku="GS-GXP1400",
        name="Grandstream GXP1400",
        category="voip_phone",
        billing_kind="one_time",
        unit_price=9800,
        tax_category="standard_10",
        status="on_sale",
        specs=("SIPアカウント 2",),
        warranty_months=6,
        image={"shape": "phone", "color": "#333333"},
    )


def test_a_taken_sku_is_refused() -> None:
    app = CatalogService()
    app.publish_product(gxp1400())
    with pytest.raises(ProductExistsError):
        app.publish_product(gxp1400())


def test_a_change_based_on_an_old_version_is_refused() -> None:
    app = CatalogService()
    app.publish_product(gxp1400())
    app.change_product(ChangeProduct("GS-GXP1400", expected_version=1, unit_price=8800))
    with pytest.raises(StaleProductError):
        app.change_product(ChangeProduct("GS-GXP1400", expected_version=1, unit_price=7800))
    assert app.get_product("GS-GXP1400").unit_price == 8800


def test_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(ProductNotFoundError):
        CatalogService().get_product("NOPE")


def test_every_event_maps_to_the_whole_state_at_its_version() -> None:
    app = CatalogService()
    app.publish_product(gxp1400())
    app.change_product(ChangeProduct("GS-GXP1400", expected_version=1, unit_price=8800))
    app.change_product(ChangeProduct("GS-GXP1400", expected_version=2, status="discontinued"))
    mapping = CatalogMapping(app)
    events = [
        e for n in app.notifications_after(0, 10) for e in mapping(app.mapper.to_domain_event(n))
    ]
    published, changed, discontinued = events
    assert isinstance(published, ProductPublished)
    assert published.product.unit_price == 9800 and published.product.version == 1
    assert isinstance(changed, ProductChanged)
    assert changed.changed == ["price"] and changed.product.unit_price == 8800
    assert isinstance(discontinued, ProductDiscontinued)
    assert not discontinued.product.purchasable and discontinued.product.version == 3
    # the same event maps to the same message on a re-publish
    again = mapping(app.mapper.to_domain_event(app.notifications_after(1, 1)[0]))
    assert again == [changed]
