"""Product decisions: prices, details and status change only when they differ."""

from __future__ import annotations

from pbx_catalog.domain.product import Product


def a_product() -> Product:
    product = Product(
        sku="GS-GXP1400",
        name="Grandstream GXP1400",
        category="voip_phone",
        billing_kind="one_time",
        unit_price=9800,
        tax_category="standard_10",
        status="on_sale",
        specs=["SIPアカウント 2"],
        warranty_months=6,
        notes=[],
        max_quantity=10,
        image={"shape": "phone", "color": "#333333"},
    )
    product.collect_events()
    return product


def test_the_id_is_derived_from_the_sku() -> None:
    assert a_product().id == Product.create_id("GS-GXP1400")


def test_a_price_change_is_an_event_and_the_same_price_is_none() -> None:
    product = a_product()
    product.change_price(8800)
    product.change_price(8800)
    assert product.unit_price == 8800
    assert [type(e).__name__ for e in product.collect_events()] == ["PriceChanged"]


def test_discontinuing_keeps_the_product_listed_but_not_purchasable() -> None:
    product = a_product()
    product.change_status("discontinued")
    assert product.status == "discontinued"
    assert not product.purchasable
    assert [type(e).__name__ for e in product.collect_events()] == ["Discontinued"]


def test_details_record_only_what_differs() -> None:
    product = a_product()
    product.change_details({"name": "Grandstream GXP1400", "warranty_months": 12})
    [changed] = product.collect_events()
    assert changed.details == {"warranty_months": 12}  # type: ignore[attr-defined]
    assert product.warranty_months == 12
