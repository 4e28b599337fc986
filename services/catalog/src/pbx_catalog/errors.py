"""Catalog's domain errors (problem+json through the kit's single handler)."""

from __future__ import annotations

from pbx_kit.errors import ConflictError, NotFoundError


class ProductNotFoundError(NotFoundError):
    """Raised when no product has the SKU."""

    code = "product_not_found"
    message_ja = "指定された商品が見つかりません。"


class ProductExistsError(ConflictError):
    """Raised when a new product's SKU is already used."""

    code = "product_exists"
    message_ja = "このSKUの商品は既に登録されています。"


class StaleProductError(ConflictError):
    """Raised when a change was based on an older version of the product."""

    code = "stale_version"
    message_ja = (
        "商品情報が他の操作で更新されています。最新の内容を確認してから再度お試しください。"
    )
