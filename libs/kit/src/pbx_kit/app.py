"""The FastAPI app factory and the runtime every service is built into.

``create_app`` gives each service the same edge: correlation ids and JSON
access logs, a body limit (413), ``Idempotency-Key`` on POST, problem+json
for every error, ``/healthz``, ``/readyz`` (database, broker, relay lag) and
``/metrics``; ``/docs`` (Swagger UI) and ``/redoc`` with their scripts served by the
service itself (from the ``fastapi-offline`` package), so they work without internet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from pbx_kit.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyMiddleware,
    IdempotencyStore,
    MemoryIdempotencyStore,
)
from pbx_kit.middleware import BodyLimitMiddleware, CorrelationMiddleware, HeaderLimitMiddleware
from pbx_kit.problems import (
    PROBLEM_RESPONSES,
    DomainError,
    on_domain_error,
    on_http_error,
    on_unexpected_error,
    on_validation_error,
)
from pbx_kit.sessions import SessionFloors


def schema_ref(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body has the given model's shape."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


#: the request headers every operation takes, as OpenAPI parameters
CORRELATION_PARAMETER: dict[str, Any] = {
    "name": "X-Correlation-ID",
    "in": "header",
    "required": False,
    "description": "Ties this request to the events and messages it causes (echoed in the "
    "answer). 1–128 of `A-Z a-z 0-9 . _ : -`; anything else is replaced by a new id.",
    "schema": {"type": "string"},
}
IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key again (same caller, same body) to get the first "
    "answer again instead of doing it twice (kept a day by default); a different body with the "
    "same key is 422 `idempotency_key_reused`, a repeat while the first still runs 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}
_ANSWER_HEADERS: dict[str, Any] = {
    "X-Correlation-ID": {
        "description": "The request's correlation id",
        "schema": {"type": "string"},
    },
    "X-Request-ID": {
        "description": "This request's own id (the causation of the events it records)",
        "schema": {"type": "string"},
    },
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _document_edge(document: dict[str, Any]) -> None:
    """Every operation documents the correlation header; every POST ``Idempotency-Key``;
    every answer the ids the edge adds."""
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            parameters = operation.setdefault("parameters", [])
            parameters.append(CORRELATION_PARAMETER)
            if method == "post":
                parameters.append(IDEMPOTENCY_PARAMETER)
            for answer in operation.get("responses", {}).values():
                if isinstance(answer, dict) and "$ref" not in answer:
                    answer.setdefault("headers", {}).update(_ANSWER_HEADERS)


def _install_openapi(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        if models:
            _, defs = models_json_schema(
                [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(defs.get("$defs", {}))
        _document_edge(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


#: where the documentation pages' scripts and styles are served, under the app's root path
DOCS_STATIC_PATH = "/static-docs"
#: the files: Swagger UI's bundle and CSS, ReDoc's standalone script, a favicon (MIT, shipped
#: by the ``fastapi-offline`` wheel; only its files are used)
DOCS_STATIC_DIRECTORY = str(files("fastapi_offline") / "static")


def _install_docs(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` whose every URL is the service's own (relative to the root
    path the app is mounted under, e.g. ``/identity`` in ``./pbx up``): no CDN."""
    app.mount(DOCS_STATIC_PATH, StaticFiles(directory=DOCS_STATIC_DIRECTORY), name="static-docs")
    oauth2_redirect = "/docs/oauth2-redirect"

    def urls(request: Request) -> tuple[str, str]:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return root, f"{root}{app.openapi_url}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root, openapi_url = urls(request)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{root}{DOCS_STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC_PATH}/favicon.png",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root, openapi_url = urls(request)
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_STATIC_PATH}/favicon.png",
            with_google_fonts=False,
        )


#: a readiness check: returns (ok, detail)
Check = Callable[[], Awaitable[tuple[bool, Any]]]

#: how long /readyz waits for each check; one that has not answered is ``"timeout"``
CHECK_DEADLINE_SECONDS = 0.8


async def _answers(*groups: dict[str, Check]) -> list[dict[str, tuple[bool, Any]]]:
    """Every check's answer, per group, all run at once, none waited for past the deadline
    (a check stuck on a server that does not answer is left behind, not awaited)."""
    tasks = [{name: asyncio.ensure_future(check()) for name, check in g.items()} for g in groups]
    pending = [task for group in tasks for task in group.values()]
    if pending:
        await asyncio.wait(pending, timeout=CHECK_DEADLINE_SECONDS)
    answers: list[dict[str, tuple[bool, Any]]] = []
    for group in tasks:
        answered: dict[str, tuple[bool, Any]] = {}
        for name, task in group.items():
            if not task.done():
                task.cancel()
                # its late end (or error) is collected, never reported as unretrieved
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                answered[name] = (False, "timeout")
            elif task.cancelled():
                answered[name] = (False, "cancelled")
            elif (exc := task.exception()) is not None:
                answered[name] = (False, type(exc).__name__)
            else:
                answered[name] = task.result()
        answers.append(answered)
    return answers


class Edge:
    """Mutable parts of a service's edge filled in at startup (stores, checks)."""

    def __init__(self) -> None:
        self.idempotency: IdempotencyStore = MemoryIdempotencyStore()
        self.checks: dict[str, Check] = {}
        #: informational figures shown by /readyz (e.g. relay lag); never fail readiness
        self.figures: dict[str, Check] = {}
        #: the lowest token version accepted per account (None: no floors, e.g. unit tests)
        self.session_floors: SessionFloors | None = None


def create_app(
    service: str,
    *,
    title: str,
    description: str = "",
    routers: Sequence[Any] = (),
    max_body_bytes: int = 1_048_576,
    edge: Edge | None = None,
    documented_models: Sequence[type[BaseModel]] = (),
) -> FastAPI:
    """A service's FastAPI app with the shared edge.

    ``documented_models`` are added to the OpenAPI components, for routes that
    validate a raw body themselves (to report every rule with its own code)
    but document its shape with ``openapi_extra`` and ``schema_ref``.
    """
    edge = edge or Edge()
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        responses=PROBLEM_RESPONSES,
        # served by _install_docs from local files instead of FastAPI's CDN-linked pages
        docs_url=None,
        redoc_url=None,
    )
    app.state.edge = edge
    for router in routers:
        app.include_router(router)
    _install_openapi(app, documented_models)
    _install_docs(app)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)

    # outermost last: header limit -> correlation -> body limit -> idempotency -> routes
    app.add_middleware(IdempotencyMiddleware, service=service, store_ref=lambda: edge.idempotency)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(CorrelationMiddleware, service=service)
    app.add_middleware(HeaderLimitMiddleware)

    @app.get("/healthz", tags=["ops"], summary="Alive")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Ready")
    async def readyz() -> JSONResponse:
        """Database and broker reachable; relay lag reported (answers within a second)."""
        checks, figures = await _answers(edge.checks, edge.figures)
        results: dict[str, Any] = {}
        ready = True
        for name, (ok, detail) in checks.items():
            results[name] = {"ok": ok, "detail": detail}
            ready = ready and ok
        for name, (_, value) in figures.items():
            results[name] = {"value": value}
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "service": service, "checks": results},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    async def metrics() -> PlainTextResponse:
        """Prometheus text exposition; the figures (relay lag, dead letters) are measured
        first, so their gauges are fresh."""
        await _answers(edge.figures)
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
