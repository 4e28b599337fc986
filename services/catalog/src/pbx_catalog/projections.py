"""The product list read model: follows the catalog's notification log into rows.

Each batch becomes one row per product it touched (the product as it is now);
the rows and the position commit together (a ``ProductStore``: PostgreSQL
tables, or memory on the in-memory stack), so a process resumes where the store
got to and start-up reads only what is new. Every process follows the log
(LISTEN/NOTIFY), so a change made anywhere shows everywhere within moments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from pbx_catalog.application import CatalogService
from pbx_events.relay import FollowerSettings, LogFollower


@dataclass(frozen=True)
class ProductRow:
    """A product's row as of notification ``position`` (``Product.as_dict``)."""

    position: int
    sku: str
    product: dict[str, Any]


class ProductProjection(LogFollower):
    """Keeps a ``ProductStore`` (memory or PostgreSQL) current with the catalog log."""

    def __init__(
        self, app: CatalogService, store: Any, settings: FollowerSettings | None = None
    ) -> None:
        super().__init__(app, "projection:products", settings)
        self.catalog = app
        self.store = store
        self._saved = 0

    async def start(self) -> None:
        """Resume from where the store got to (the store saves it with the rows)."""
        self._saved = await self.store.position()

    def load_position(self) -> int:
        return self._saved

    def store_position(self, position: int) -> None:
        self._saved = position  # already saved with the rows, in handle_batch

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> list[ProductRow]:
        rows: dict[str, ProductRow] = {}
        for position, event in batch:
            sku = self._sku_of(event)
            if sku is not None:
                rows[sku] = ProductRow(position, sku, self.catalog.get_product(sku).as_dict())
        return list(rows.values())

    def _sku_of(self, event: Any) -> str | None:
        sku = getattr(event, "sku", None)
        if isinstance(sku, str):
            return sku
        return self.catalog.sku_of(event.originator_id)

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        rows = prepared if prepared is not None else self.prepare(batch)
        await self.store.apply(rows, batch[-1][0])

    async def rebuild(self) -> int:
        """Empty the read model and apply the whole log again (one transaction: readers
        see the old rows until it commits); returns the position reached."""
        self._saved = await self.store.rebuild(self._from_zero())
        return self._saved

    async def _from_zero(self) -> AsyncIterator[tuple[list[ProductRow], int]]:
        position = 0
        while True:
            last, batch, prepared = await anyio.to_thread.run_sync(self._read, position)
            if not batch:
                return
            yield prepared, last
            position = last
