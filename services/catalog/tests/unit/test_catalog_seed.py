"""The shipped seed: every product validates as an admin would have to enter it."""

from __future__ import annotations

import pytest

from pbx_catalog.api_models import ProductIn
from pbx_catalog.application import CatalogService, seed_data
from pbx_catalog.domain.product import CATEGORIES

SEED = seed_data()


@pytest.mark.parametrize("item", SEED["products"], ids=lambda i: i["sku"])
def test_every_seeded_product_validates(item: dict[str, object]) -> None:
    ProductIn.model_validate(item)


def test_the_seed_has_the_eight_categories_and_each_has_products() -> None:
    assert [(c["code"], c["name"]) for c in SEED["categories"]] == list(CATEGORIES.items())
    used = {p["category"] for p in SEED["products"]}
    assert used == set(CATEGORIES)


def test_the_seed_holds_what_the_shop_needs() -> None:
    skus = {p["sku"]: p for p in SEED["products"]}
    assert {"GS-GXP1400", "GS-GXP1405", "SHIP-DOMESTIC", "UNIQUE"} <= set(skus)
    assert skus["SHIP-DOMESTIC"]["billing_kind"] == "shipping"
    assert skus["SHIP-DOMESTIC"]["name"] == "国内配送料"
    prefixes = ["03", "06", "011", "022", "045", "052", "078", "092", "098", "050", "0120",
                "0800", "0570"]  # fmt: skip
    assert all(f"NUM-{p}" in skus for p in prefixes)
    assert any(s.startswith("NUM-INTL-") for s in skus)
    assert any(p["billing_kind"] == "cancellation" for p in SEED["products"])
    assert sum(p["billing_kind"] == "one_time" and p["status"] == "on_sale"
               for p in SEED["products"]) >= 12  # fmt: skip
    assert all(isinstance(p["unit_price"], int) for p in SEED["products"])


def test_loading_the_seed_twice_creates_nothing_new() -> None:
    app = CatalogService()
    assert app.load_seed() == len(SEED["products"])
    head = app.max_notification_id()
    assert app.load_seed() == 0
    assert app.max_notification_id() == head
