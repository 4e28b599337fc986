"""Runs service runtimes: start hooks, background loops, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import structlog

from pbx_kit.runtime import Infrastructure, ServiceRuntime

log = structlog.get_logger("pbx.host")


async def _guard(name: str, loop: object) -> None:
    """Keep a background loop alive: a crash is logged and the loop restarted."""
    assert callable(loop)
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_loop_crashed", loop=name)
            await asyncio.sleep(1.0)


@contextlib.asynccontextmanager
async def running(
    infra: Infrastructure, runtimes: Sequence[ServiceRuntime]
) -> AsyncIterator[Sequence[ServiceRuntime]]:
    """Connect the bus, start every runtime and its loops; stop all on exit."""
    await infra.bus.connect()
    tasks: list[asyncio.Task[None]] = []
    try:
        for runtime in runtimes:
            for hook in runtime.on_start:
                await hook()
        for runtime in runtimes:
            for loop in runtime.loops:
                name = f"{runtime.name}:{getattr(loop, '__qualname__', 'loop')}"
                tasks.append(asyncio.create_task(_guard(name, loop), name=name))
        log.info("services_started", services=[r.name for r in runtimes])
        yield runtimes
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for runtime in reversed(runtimes):
            for hook in runtime.on_stop:
                try:
                    await hook()
                except Exception:
                    log.exception("stop_hook_failed", service=runtime.name)
        await infra.bus.close()
        log.info("services_stopped")
