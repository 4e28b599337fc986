"""The product list read model: follows the catalog's notification log.

The catalog is small (tens to hundreds of products), so the view is kept in
memory and rebuilt from the log at start; every process follows the log on its
own (LISTEN/NOTIFY), so a change made anywhere shows everywhere within moments.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from pbx_catalog.application import CatalogService
from pbx_catalog.domain.product import CATEGORIES
from pbx_events.relay import LogFollower, RelaySettings

_CATEGORY_ORDER = {code: i for i, code in enumerate(CATEGORIES)}


class ProductView(LogFollower):
    def __init__(self, app: CatalogService, settings: RelaySettings | None = None) -> None:
        super().__init__(app, "view:products", settings)
        self.catalog = app
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.position_seen = 0

    # the view lives in memory: every process rebuilds it from the start of the log
    def load_position(self) -> int:
        return self.position_seen

    def store_position(self, position: int) -> None:
        self.position_seen = position

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for _position, event in batch:
            sku = self._sku_of(event)
            if sku is not None:
                rows[sku] = self.catalog.get_product(sku).as_dict()
        return rows

    def _sku_of(self, event: Any) -> str | None:
        sku = getattr(event, "sku", None)
        if isinstance(sku, str):
            return sku
        return self.catalog.sku_of(event.originator_id)

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        rows = prepared if prepared is not None else self.prepare(batch)
        with self._lock:
            self._rows.update(rows)

    def products(
        self, category: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Products in a stable order: category order, then SKU."""
        with self._lock:
            rows = list(self._rows.values())
        if category is not None:
            rows = [r for r in rows if r["category"] == category]
        if status is not None:
            rows = [r for r in rows if r["status"] == status]
        return sorted(rows, key=lambda r: (_CATEGORY_ORDER.get(r["category"], 99), r["sku"]))

    def product(self, sku: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(sku)
            return dict(row) if row is not None else None
