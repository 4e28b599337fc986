"""``./pbx up``: every service in one process on one port, mounted under /<service>; and
one service alone (``python -m pbx_cli.serve``, ``alone=<service>``) at the root path."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Sequence

import anyio
import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pbx_cli.services import SERVICES
from pbx_cli.startup import bound, claimed
from pbx_cli.warehouse_sim import WarehouseSim, login_token, sim_login
from pbx_kit.host import running
from pbx_kit.logging import configure_logging
from pbx_kit.middleware import HeaderLimitMiddleware
from pbx_kit.runtime import Infrastructure, ServiceRuntime, open_infrastructure
from pbx_kit.server_wait import DEFAULT_WAIT_SECONDS, servers_of, wait_for_servers
from pbx_kit.settings import Settings, http_base

log = structlog.get_logger("pbx.up")


def root_app(runtimes: Sequence[ServiceRuntime]) -> FastAPI:
    root = FastAPI(title="クラウドPBX portal", docs_url=None, redoc_url=None, openapi_url=None)
    root.add_middleware(HeaderLimitMiddleware)
    for runtime in runtimes:
        root.mount(f"/{runtime.name}", runtime.api)

    @root.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"status": "ok", "services": [r.name for r in runtimes]}

    @root.get("/", response_class=HTMLResponse)
    async def index() -> str:
        items = "".join(
            f'<li>{r.name}: <a href="/{r.name}/docs">/{r.name}/docs</a> '
            f'(<a href="/{r.name}/openapi.json">openapi.json</a>)</li>'
            for r in runtimes
        )
        return f"<html><body><h1>クラウドPBX portal API</h1><ul>{items}</ul></body></html>"

    return root


class UnderPrefix:
    """A service served alone, reached under its prefix (``/identity/auth/token``, a gateway
    that passes the path on) or without it (``/auth/token``: a gateway that strips it, a
    health probe): either way its routes see the path inside the service, and its links
    (documentation pages, product images) carry the prefix, the ``root_path``."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app, self.prefix = app, prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.prefix and scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            scope = {**scope, "root_path": self.prefix}
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                scope["path"] = self.prefix + path
                raw = scope.get("raw_path")
                if raw is not None:
                    scope["raw_path"] = self.prefix.encode() + raw
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    """uvicorn's server, saying ``listening`` once it is (not before)."""

    def __init__(self, config: uvicorn.Config, url: str, data_dir: str) -> None:
        super().__init__(config)
        self.url, self.data_dir = url, data_dir

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            log.info("listening", url=self.url, data_dir=self.data_dir)


async def serve(
    settings: Settings,
    sock: socket.socket,
    stopping: threading.Event | None = None,
    wait: float = DEFAULT_WAIT_SECONDS,
    warehouse_sim: bool = False,
    alone: str | None = None,
    root_path: str = "",
) -> None:
    """Serve on ``sock`` (bound by ``main``) once the servers answer: every service under
    /<service>, or only the service ``alone`` at the root path, also answering under
    ``root_path`` (``UnderPrefix``), the prefix its links carry."""
    configure_logging(settings.log_level)
    # real servers not up yet (started together, or restarting): wait, saying for which
    await wait_for_servers(servers_of(settings), wait)
    infra = await anyio.to_thread.run_sync(open_infrastructure, settings)
    try:
        builds = SERVICES if alone is None else {alone: SERVICES[alone]}
        runtimes = [build(infra) for build in builds.values()]
        async with running(infra, runtimes):
            app: ASGIApp = (
                root_app(runtimes)
                if alone is None
                else HeaderLimitMiddleware(UnderPrefix(runtimes[0].api, root_path))
            )
            config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
            base = http_base(*sock.getsockname()[:2])
            server = _Server(config, base, str(settings.data_dir))
            sim = None
            if warehouse_sim:
                sim = asyncio.create_task(_warehouse_sim(infra, runtimes, base, settings))
            await server.serve(sockets=[sock])
            if sim is not None:
                sim.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sim
            if stopping is not None:
                stopping.set()
    finally:
        # also stops the embedded PostgreSQL
        await infra.close()


async def _warehouse_sim(
    infra: Infrastructure, runtimes: Sequence[ServiceRuntime], base: str, settings: Settings
) -> None:
    """The stand-in warehouse on this process's bus, reporting over this server's HTTP."""
    identity = next(r for r in runtimes if r.name == "identity").api.state.application
    login_id, password = await anyio.to_thread.run_sync(sim_login, identity, settings.data_dir)
    sim = WarehouseSim(
        infra.bus,
        base + "/fulfillment",
        login_token(base, login_id, password),
        queue_prefix=settings.queue_prefix,
    )
    await sim.run()


def main(
    settings: Settings,
    host: str,
    port: int,
    wait: float = DEFAULT_WAIT_SECONDS,
    warehouse_sim: bool = False,
    alone: str | None = None,
    root_path: str = "",
) -> None:
    """Serve on ``host:port``; before anything starts, refuse (``ConfigurationError``) a
    data directory that is not writable or that another ``./pbx up`` holds, and a port
    in use. The mail links not set explicitly point at this address. A service served
    ``alone`` does not hold the data directory: its replicas may share one."""

    # uvicorn handles SIGINT/SIGTERM while it serves, then re-raises the signal
    # once it has stopped; by then our own clean stop (services, bus, embedded
    # PostgreSQL) must run to the end, so a re-raised signal is ignored.
    def on_signal(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            raise KeyboardInterrupt

    stopping = threading.Event()
    held = claimed(settings.data_dir) if alone is None else contextlib.nullcontext()
    with held, bound(host, port) as sock:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        served = settings.served_at(host, port)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(served, sock, stopping, wait, warehouse_sim, alone, root_path))
