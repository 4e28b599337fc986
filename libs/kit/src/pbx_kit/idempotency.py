"""``Idempotency-Key`` on every POST: the first response is replayed for a repeat.

The key is scoped to the service, the method and path, and the caller (a hash
of the ``Authorization`` header). The same key with a different body is refused
(422 ``idempotency_key_reused``); a repeat while the first is still running
gets 409 ``idempotency_in_progress``. Server errors (5xx) are not stored, so a
retry runs again (a claim left "in progress" because the database was gone when
it was released is taken as abandoned after a minute). Entries expire after
``ttl`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pbx_kit.middleware import _header, read_body, replaying
from pbx_kit.problems import problem_response

MAX_KEY_LENGTH = 255
#: a key still "in progress" this long after its claim is taken as abandoned: requests
#: wait for a server a few seconds at most, so its first request ended without releasing
#: it (a 503 whose release could not reach the database)
ABANDONED_AFTER_SECONDS = 60


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status: int | None  # None while the first request is still running
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyStore(Protocol):
    async def begin(self, scope_key: str, request_hash: str) -> StoredResponse | None:
        """Claim the key (returns None) or return what is stored under it."""
        ...

    async def complete(
        self, scope_key: str, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None: ...

    async def abandon(self, scope_key: str) -> None: ...


class MemoryIdempotencyStore:
    def __init__(self, ttl: int = 86_400) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, StoredResponse]] = {}

    async def begin(self, scope_key: str, request_hash: str) -> StoredResponse | None:
        now = time.monotonic()
        entry = self._entries.get(scope_key)
        if entry and now - entry[0] < self.ttl:
            return entry[1]
        self._entries[scope_key] = (now, StoredResponse(request_hash, None, [], b""))
        return None

    async def complete(
        self, scope_key: str, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        created, first = self._entries[scope_key]
        self._entries[scope_key] = (
            created,
            StoredResponse(first.request_hash, status, headers, body),
        )

    async def abandon(self, scope_key: str) -> None:
        self._entries.pop(scope_key, None)


class PostgresIdempotencyStore:
    """Keys in the service's own schema; the claim is one INSERT, safe under races."""

    def __init__(self, pool: asyncpg.Pool, schema: str, ttl: int = 86_400) -> None:
        self.pool = pool
        self.table = f'"{schema}".idempotency_keys'
        self.ttl = ttl

    async def create_table(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
                    scope_key text PRIMARY KEY,
                    request_hash text NOT NULL,
                    status integer,
                    headers jsonb NOT NULL DEFAULT '[]',
                    body bytea NOT NULL DEFAULT '',
                    created_at timestamptz NOT NULL DEFAULT now())"""
            )

    async def begin(self, scope_key: str, request_hash: str) -> StoredResponse | None:
        async with self.pool.acquire() as conn, conn.transaction():
            # expired; or still "running" long after any request could have: its answer
            # was a 5xx whose release failed (the database went away meanwhile)
            await conn.execute(
                f"DELETE FROM {self.table} WHERE scope_key=$1 "
                f"AND (created_at < now() - make_interval(secs => $2) OR "
                f"(status IS NULL AND created_at < now() - make_interval(secs => $3)))",
                scope_key,
                float(self.ttl),
                float(ABANDONED_AFTER_SECONDS),
            )
            claimed = await conn.fetchval(
                f"INSERT INTO {self.table} (scope_key, request_hash) VALUES ($1, $2) "
                "ON CONFLICT (scope_key) DO NOTHING RETURNING 1",
                scope_key,
                request_hash,
            )
            if claimed:
                return None
            row = await conn.fetchrow(
                f"SELECT request_hash, status, headers, body FROM {self.table} WHERE scope_key=$1",
                scope_key,
            )
        if row is None:  # expired and removed between the two statements
            return StoredResponse(request_hash, None, [], b"")
        return StoredResponse(
            row["request_hash"],
            row["status"],
            [tuple(h) for h in json.loads(row["headers"])],  # type: ignore[misc]
            bytes(row["body"]),
        )

    async def complete(
        self, scope_key: str, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {self.table} SET status=$2, headers=$3, body=$4 WHERE scope_key=$1",
                scope_key,
                status,
                json.dumps(headers),
                body,
            )

    async def abandon(self, scope_key: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(f"DELETE FROM {self.table} WHERE scope_key=$1", scope_key)


_REPLAYED_HEADERS = {"content-type", "location"}


def _login_routes(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path regex) of every operation whose OpenAPI says it needs a bearer token
    (cached on the app: routes do not change once it serves)."""
    cached = getattr(app.state, "_login_routes", None)
    if cached is None:
        from starlette.routing import compile_path

        cached = [
            (method.upper(), compile_path(path)[0])
            for path, item in app.openapi().get("paths", {}).items()
            for method, operation in item.items()
            if isinstance(operation, dict) and operation.get("security")
        ]
        app.state._login_routes = cached
    return list(cached)


def _needs_login(scope: Scope) -> bool:
    """Whether the operation this request goes to needs a bearer token."""
    app = scope.get("app")
    if app is None or not hasattr(app, "openapi"):
        return False
    # the path inside the app (a mounted app's own routes do not carry the mount prefix)
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    method = scope.get("method", "")
    return any(m == method and regex.match(path) for m, regex in _login_routes(app))


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, service: str, store_ref: Any) -> None:
        self.app = app
        self.service = service
        #: a callable returning the store (it is created at startup)
        self.store_ref = store_ref

    async def _caller(self, scope: Scope) -> str | None:
        """Whose key this is: the verified token's subject (so a refreshed token still
        replays), else a hash of the ``Authorization`` header as sent. None when the
        route needs a token and this one is missing, refused, or issued before the
        account's sessions ended: the route answers 401, never a stored answer or a
        key-reuse refusal."""
        authorization = _header(scope, b"authorization") or ""
        state = getattr(scope.get("app"), "state", None)
        verifier = getattr(state, "token_verifier", None)
        scheme, _, token = authorization.partition(" ")
        if verifier is not None and scheme.lower() == "bearer" and token:
            import anyio

            try:
                caller = await anyio.to_thread.run_sync(verifier.verify, token.strip())
            except Exception:  # noqa: S110 - an invalid token is refused by the route itself
                pass
            else:
                floors = getattr(getattr(state, "edge", None), "session_floors", None)
                ended = floors is not None and caller.token_version < await floors.floor(
                    caller.subject
                )
                if not ended:
                    return f"sub:{caller.subject}"
        if _needs_login(scope):
            return None
        return "hdr:" + hashlib.sha256(authorization.encode()).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        caller = await self._caller(scope)
        if caller is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            await problem_response(
                422,
                "invalid_idempotency_key",
                f"Idempotency-Keyは1〜{MAX_KEY_LENGTH}文字で指定してください。",
            )(scope, receive, send)
            return
        body, messages = await read_body(receive)
        scope_key = hashlib.sha256(
            f"{self.service}\0{scope.get('path')}\0{caller}\0{key}".encode()
        ).hexdigest()
        request_hash = hashlib.sha256(body).hexdigest()
        store: IdempotencyStore = self.store_ref()
        stored = await store.begin(scope_key, request_hash)
        if stored is not None:
            if stored.request_hash != request_hash:
                await problem_response(
                    422,
                    "idempotency_key_reused",
                    "同じIdempotency-Keyが異なる内容のリクエストに使用されています。",
                )(scope, receive, send)
            elif stored.status is None:
                await problem_response(
                    409,
                    "idempotency_in_progress",
                    "同じIdempotency-Keyのリクエストを処理中です。しばらくしてから再度お試しください。",
                    headers={"Retry-After": "1"},
                )(scope, receive, send)
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": stored.status,
                        "headers": [(k.encode(), v.encode()) for k, v in stored.headers]
                        + [(b"idempotent-replayed", b"true")],
                    }
                )
                await send({"type": "http.response.body", "body": stored.body})
            return

        captured: dict[str, Any] = {"status": None, "headers": [], "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() in _REPLAYED_HEADERS
                ]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replaying(messages, receive), capture)
        except BaseException:
            await store.abandon(scope_key)
            raise
        status = captured["status"]
        if status is None or status >= 500:
            await store.abandon(scope_key)
        else:
            await store.complete(scope_key, status, captured["headers"], b"".join(captured["body"]))
