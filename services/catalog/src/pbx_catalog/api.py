"""Catalog routes: categories and products for everyone, changes for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from pbx_catalog.api_models import CategoryCode, ProductChangeIn, ProductIn, Status
from pbx_catalog.application import CatalogService, publish_command
from pbx_catalog.commands import ChangeProduct
from pbx_catalog.domain.product import CATEGORIES
from pbx_catalog.errors import ProductNotFoundError
from pbx_catalog.images import product_svg
from pbx_catalog.read_model import ProductStore
from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import problem_responses

router = APIRouter(tags=["catalog"])
AdminDep = Annotated[Caller, Depends(require_roles("admin"))]
_NOT_FOUND = problem_responses(404, s404="no product with this SKU")
_ADMIN = problem_responses(401, 403, 409, s409="SKU taken, or the product changed meanwhile")


def get_app(request: Request) -> CatalogService:
    app: CatalogService = request.app.state.application
    return app


def get_store(request: Request) -> ProductStore:
    store: ProductStore = request.app.state.product_store
    return store


CatalogDep = Annotated[CatalogService, Depends(get_app)]
StoreDep = Annotated[ProductStore, Depends(get_store)]


class CategoryOut(BaseModel):
    code: str
    name: str
    product_count: int


class ProductOut(BaseModel):
    sku: str
    name: str
    category: str
    category_name: str
    billing_kind: str
    unit_price: int
    tax_category: str
    status: str
    purchasable: bool
    specs: list[str]
    warranty_months: int
    notes: list[str]
    max_quantity: int
    image_url: str
    version: int


class ProductPage(BaseModel):
    items: list[ProductOut]
    page: int
    per_page: int
    total: int


def product_out(row: dict[str, Any], request: Request) -> ProductOut:
    root = request.scope.get("root_path", "")
    return ProductOut(
        **{k: row[k] for k in ProductOut.model_fields if k in row},
        category_name=CATEGORIES.get(row["category"], row["category"]),
        image_url=f"{root}/products/{row['sku']}/image.svg",
    )


@router.get("/categories", response_model=list[CategoryOut])
async def list_categories(store: StoreDep) -> list[CategoryOut]:
    """The eight categories with their Japanese names, in shop order."""
    counts = await store.category_counts()
    return [
        CategoryOut(code=code, name=name, product_count=counts.get(code, 0))
        for code, name in CATEGORIES.items()
    ]


@router.get("/products", response_model=ProductPage)
async def list_products(
    request: Request,
    store: StoreDep,
    category: Annotated[CategoryCode | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ProductPage:
    """Products by category and status, paged, in a stable order (discontinued ones are
    listed with ``purchasable: false``)."""
    rows, total = await store.products(category, status, per_page, (page - 1) * per_page)
    return ProductPage(
        items=[product_out(r, request) for r in rows], page=page, per_page=per_page, total=total
    )


@router.get("/products/{sku}", response_model=ProductOut, responses=_NOT_FOUND)
async def read_product(sku: str, request: Request, store: StoreDep) -> ProductOut:
    """One product."""
    row = await store.product(sku)
    if row is None:
        raise ProductNotFoundError
    return product_out(row, request)


@router.get(
    "/products/{sku}/image.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **_NOT_FOUND},
)
async def product_image(sku: str, store: StoreDep) -> Response:
    """The product's image (a small generated SVG)."""
    row = await store.product(sku)
    if row is None:
        raise ProductNotFoundError
    svg = product_svg(
        row["image"].get("shape", "box"), row["image"].get("color", "#555555"), row["name"]
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


@router.post("/products", status_code=201, response_model=ProductOut, responses=_ADMIN)
def publish_product(
    body: ProductIn, caller: AdminDep, app: CatalogDep, request: Request
) -> ProductOut:
    """Add a product (admin)."""
    product = app.publish_product(publish_command(body.model_dump()))
    return product_out(product.as_dict(), request)


@router.patch("/products/{sku}", response_model=ProductOut, responses={**_ADMIN, **_NOT_FOUND})
def change_product(
    sku: str, body: ProductChangeIn, caller: AdminDep, app: CatalogDep, request: Request
) -> ProductOut:
    """Change price, status or details of the version you saw (admin; 409 when stale)."""
    details = body.model_dump(exclude_none=True, exclude={"version", "unit_price", "status"})
    product = app.change_product(
        ChangeProduct(
            sku=sku,
            expected_version=body.version,
            unit_price=body.unit_price,
            status=body.status,
            details=details,
        )
    )
    return product_out(product.as_dict(), request)
