"""The FastAPI app factory and the runtime every service is built into.

``create_app`` gives each service the same edge: correlation ids and JSON
access logs, a body limit (413), ``Idempotency-Key`` on POST, problem+json
for every error, ``/healthz``, ``/readyz`` (database, broker, relay lag) and
``/metrics``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from pbx_kit.idempotency import IdempotencyMiddleware, IdempotencyStore, MemoryIdempotencyStore
from pbx_kit.middleware import BodyLimitMiddleware, CorrelationMiddleware
from pbx_kit.problems import (
    PROBLEM_RESPONSES,
    DomainError,
    on_domain_error,
    on_http_error,
    on_unexpected_error,
    on_validation_error,
)

#: a readiness check: returns (ok, detail)
Check = Callable[[], Awaitable[tuple[bool, Any]]]


class Edge:
    """Mutable parts of a service's edge filled in at startup (stores, checks)."""

    def __init__(self) -> None:
        self.idempotency: IdempotencyStore = MemoryIdempotencyStore()
        self.checks: dict[str, Check] = {}
        #: informational figures shown by /readyz (e.g. relay lag); never fail readiness
        self.figures: dict[str, Check] = {}


def create_app(
    service: str,
    *,
    title: str,
    description: str = "",
    routers: Sequence[Any] = (),
    max_body_bytes: int = 1_048_576,
    edge: Edge | None = None,
) -> FastAPI:
    edge = edge or Edge()
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        responses=PROBLEM_RESPONSES,
    )
    app.state.edge = edge
    for router in routers:
        app.include_router(router)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)

    # outermost last: correlation -> body limit -> idempotency -> routes
    app.add_middleware(IdempotencyMiddleware, service=service, store_ref=lambda: edge.idempotency)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(CorrelationMiddleware, service=service)

    @app.get("/healthz", tags=["ops"], summary="Alive")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Ready")
    async def readyz() -> JSONResponse:
        """Database and broker reachable; relay lag reported."""
        results: dict[str, Any] = {}
        ready = True
        for name, check in edge.checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:
                ok, detail = False, type(exc).__name__
            results[name] = {"ok": ok, "detail": detail}
            ready = ready and ok
        for name, figure in edge.figures.items():
            try:
                _, value = await figure()
            except Exception as exc:
                value = type(exc).__name__
            results[name] = {"value": value}
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "service": service, "checks": results},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    async def metrics() -> PlainTextResponse:
        """Prometheus text exposition."""
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
