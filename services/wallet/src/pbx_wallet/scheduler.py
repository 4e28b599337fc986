"""The durable timer for payment deadlines.

The charges due are rows of the ledger read model (made from the events, so
they survive any restart); at each tick the ones past their deadline are
settled: paid after all if the provider says so (a lost notification, a crash
after the card company answered), expired otherwise.
"""

from __future__ import annotations

import asyncio

import anyio
import structlog

from pbx_wallet.application import WalletService
from pbx_wallet.ledger import LedgerStore

log = structlog.get_logger("pbx.wallet.expiry")


class ChargeExpiry:
    def __init__(self, app: WalletService, store: LedgerStore, interval: float = 5.0) -> None:
        self.app = app
        self.store = store
        self.interval = interval

    async def run_once(self, limit: int = 100) -> int:
        """Settle the charges past their deadline now; returns how many changed."""
        changed = 0
        for account_id, charge_id in await self.store.due_charges(self.app.clock(), limit):
            if await anyio.to_thread.run_sync(self.app.expire_charge, account_id, charge_id):
                changed += 1
        return changed

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("charge_expiry_failed", error=repr(exc))
            await asyncio.sleep(self.interval)
