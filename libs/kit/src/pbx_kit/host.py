"""Runs service runtimes: start hooks, background loops, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence

import structlog

from pbx_kit.runtime import Infrastructure, ServiceRuntime

log = structlog.get_logger("pbx.host")

#: seconds each part of a stop may take before it is left behind
STOP_TIMEOUT = 15.0


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


async def _bounded(action: Awaitable[None], name: str) -> None:
    task = asyncio.ensure_future(action)
    done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
    if not done:
        log.error("stop_step_abandoned", step=name)
        return
    if task.exception() is not None:
        log.error("stop_step_failed", step=name, exc_info=task.exception())


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
        if tasks:
            # bounded: a loop that does not stop in time is left behind, logged
            _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in stuck:
                log.error("background_loop_did_not_stop", loop=task.get_name())
        for runtime in reversed(runtimes):
            for hook in runtime.on_stop:
                await _bounded(hook(), f"{runtime.name}:stop")
        await _bounded(infra.bus.close(), "bus:close")
        log.info("services_stopped")
