"""Login throttling: growing delays per login ID, per client address, and per both.

- per (login ID, address): from the 5th consecutive failure, each further try
  waits 2^(n-5) s after the last failure (at most 15 min) — the attacker's
  own address is slowed down first;
- per address (any login IDs): from the 50th failure, 2^((n-50)/5) s (15 min
  at most) — credential stuffing;
- per login ID (any address): from the 100th consecutive failure, 2^((n-100)/25) s
  (at most 30 s) — so at most 100 consecutive failures of one account are ever
  evaluated without delay, while the real owner, from another address, only
  waits a few seconds.
A success clears the login ID's counters (not the address's). Throttled tries
get 429 with ``Retry-After`` and are not evaluated (no password check).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import asyncpg


@dataclass(frozen=True)
class Rule:
    prefix: str
    free_failures: int
    step: int
    max_delay: float

    def delay(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        exponent = (failures - self.free_failures) // self.step
        return float(min(self.max_delay, 2.0**exponent))


PER_ID_AND_ADDRESS = Rule("idip", free_failures=5, step=1, max_delay=900)
PER_ADDRESS = Rule("ip", free_failures=50, step=5, max_delay=900)
PER_ID = Rule("id", free_failures=100, step=25, max_delay=30)


def keys(login_id: str, address: str) -> dict[Rule, str]:
    login = login_id.strip().upper()
    return {
        PER_ID_AND_ADDRESS: f"idip:{login}|{address}",
        PER_ADDRESS: f"ip:{address}",
        PER_ID: f"id:{login}",
    }


class FailureStore(Protocol):
    async def get(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        """Failures and the time of the last one (epoch seconds), per key."""
        ...

    async def fail(self, keys: list[str], now: float) -> None: ...

    async def clear(self, keys: list[str]) -> None: ...


class MemoryFailureStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}

    async def get(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        return {k: self._data[k] for k in keys if k in self._data}

    async def fail(self, keys: list[str], now: float) -> None:
        for key in keys:
            count, _ = self._data.get(key, (0, 0.0))
            self._data[key] = (count + 1, now)

    async def clear(self, keys: list[str]) -> None:
        for key in keys:
            self._data.pop(key, None)


class PostgresFailureStore:
    """Shared by every identity process: one row per key, updated atomically."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.table = f'"{schema}".login_failures'

    async def create_table(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
                    key text PRIMARY KEY,
                    failures integer NOT NULL,
                    last_failure double precision NOT NULL)"""
            )

    async def get(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT key, failures, last_failure FROM {self.table} WHERE key = ANY($1)", keys
            )
        return {r["key"]: (r["failures"], r["last_failure"]) for r in rows}

    async def fail(self, keys: list[str], now: float) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"""INSERT INTO {self.table} (key, failures, last_failure)
                    SELECT k, 1, $2 FROM unnest($1::text[]) AS k
                    ON CONFLICT (key) DO UPDATE
                    SET failures = {self.table}.failures + 1, last_failure = $2""",
                keys,
                now,
            )

    async def clear(self, keys: list[str]) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(f"DELETE FROM {self.table} WHERE key = ANY($1)", keys)


class LoginThrottle:
    def __init__(self, store: FailureStore, clock: object = time.time) -> None:
        self.store = store
        self.clock = clock

    def _now(self) -> float:
        assert callable(self.clock)
        return float(self.clock())

    async def retry_after(self, login_id: str, address: str) -> int:
        """Seconds to wait before this try may be evaluated (0: go ahead)."""
        by_rule = keys(login_id, address)
        seen = await self.store.get(list(by_rule.values()))
        now = self._now()
        wait = 0.0
        for rule, key in by_rule.items():
            if key in seen:
                failures, last = seen[key]
                wait = max(wait, last + rule.delay(failures) - now)
        return math.ceil(wait) if wait > 0 else 0

    async def failed(self, login_id: str, address: str) -> None:
        await self.store.fail(list(keys(login_id, address).values()), self._now())

    async def succeeded(self, login_id: str, address: str) -> None:
        by_rule = keys(login_id, address)
        await self.store.clear([by_rule[PER_ID_AND_ADDRESS], by_rule[PER_ID]])
