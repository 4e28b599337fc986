"""ASGI middleware every service runs: correlation ids and access logs, body limit."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pbx_events import context
from pbx_events.availability import is_unavailable
from pbx_kit.problems import log_unexpected_error, problem_response, unexpected_error_response

log = structlog.get_logger("pbx.http")

REQUESTS = Counter(
    "pbx_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "pbx_http_request_seconds",
    "HTTP request latency per route",
    ["service", "method", "route", "status_class"],
)
#: the route label of a request no route matched (never the raw path: unbounded cardinality)
UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The matched route's template (``/orders/{order_id}``), set by the router in the scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


_ID_RE = re.compile(r"\A[A-Za-z0-9._:-]{1,128}\Z")
CORRELATION_HEADER = "x-correlation-id"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
                return None
    return None


class CorrelationMiddleware:
    """Take ``X-Correlation-ID`` (or make one), echo it, and put it in logs and events.

    Each request is also the causation of the events it records (``X-Request-ID``).
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, CORRELATION_HEADER.encode())
        correlation_id = given if given and _ID_RE.match(given) else str(uuid.uuid4())
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                headers = list(message.get("headers", []))
                headers.append((b"x-correlation-id", correlation_id.encode()))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with (
            context.caused_by(correlation_id, request_id),
            structlog.contextvars.bound_contextvars(
                service=self.service, correlation_id=correlation_id, causation_id=request_id
            ),
        ):
            try:
                await self.app(scope, receive, send_with_ids)
            except Exception as exc:
                # a bug (500) or a server out of reach (503 with Retry-After): answer a
                # problem (with the ids, so support can find the log line) instead of
                # letting the server's bare 500 escape
                log_unexpected_error(exc)
                if status_holder.get("started"):
                    if is_unavailable(exc):
                        return  # e.g. the Idempotency-Key store, after the answer went out
                    raise
                await unexpected_error_response(exc)(scope, receive, send_with_ids)
            finally:
                elapsed = time.perf_counter() - started
                method = scope.get("method", "?")
                status = status_holder["status"]
                route = route_template(scope)
                REQUESTS.labels(self.service, method, route, str(status)).inc()
                LATENCY.labels(self.service, method, route, f"{status // 100}xx").observe(elapsed)
                log.info(
                    "http_request",
                    method=method,
                    path=scope.get("path"),
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )


class BodyTooLargeError(HTTPException):
    """Raised while streaming a body over the limit.

    An ``HTTPException`` (413) so that FastAPI's body parsing re-raises it to the
    problem handler instead of turning it into a 400.
    """

    def __init__(self) -> None:
        super().__init__(413)


class HeaderLimitMiddleware:
    """431 problem+json for too many request headers or too many header bytes.

    The HTTP server (h11) bounds only a header block that arrives incomplete, so a
    complete 64 MB header or thousands of headers would otherwise reach the routes, be
    parsed, logged and looked through on every request."""

    def __init__(self, app: ASGIApp, max_count: int = 100, max_bytes: int = 16_384) -> None:
        self.app = app
        self.max_count = max_count
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope.get("headers", [])
            size = sum(len(k) + len(v) + 4 for k, v in headers)
            if len(headers) > self.max_count or size > self.max_bytes:
                await problem_response(
                    431,
                    "request_header_fields_too_large",
                    f"リクエストヘッダーが大きすぎます（{self.max_count}個・"
                    f"{self.max_bytes // 1024}KiBまで）。",
                    title="Request Header Fields Too Large",
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for a body over the limit, by ``Content-Length`` and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(scope, receive, send)
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not response_started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            f"リクエストのサイズが上限（{self.max_bytes}バイト）を超えています。",
        )
        await response(scope, receive, send)


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """Read a whole request body; returns it and the messages to replay."""
    chunks: list[bytes] = []
    messages: list[Message] = []
    more = True
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    return b"".join(chunks), messages


def replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def header_dict(headers: Any) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
