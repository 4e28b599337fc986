"""RFC 9457 problem+json for every error (ARCHITECTURE.md, errors).

``type``, ``title``, ``status``, ``detail`` (Japanese), ``code`` (stable) and,
for input errors, ``errors[]`` of ``{field, code, message}``. Domain errors
subclass ``DomainError`` (``pbx_kit.errors``, re-exported here); one handler
maps them all. A server that could not be reached in time (PostgreSQL,
RabbitMQ: ``pbx_events.availability``) is 503 ``service_unavailable`` with
``Retry-After``; any other unexpected error is a bug (500).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from pbx_events.availability import is_unavailable
from pbx_kit.errors import ConflictError as ConflictError
from pbx_kit.errors import DomainError as DomainError
from pbx_kit.errors import FieldProblem as FieldProblem
from pbx_kit.errors import NotFoundError as NotFoundError
from pbx_kit.errors import RuleViolationError as RuleViolationError

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://cloudpbx.example.jp/problems/"


class ProblemField(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemField] = []
    instance: str | None = None


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[FieldProblem] = (),
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in errors],
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

_HTTP_CODES = {
    400: ("bad_request", "リクエストの形式が正しくありません。"),
    401: ("unauthorized", "認証が必要です。"),
    403: ("forbidden", "この操作を行う権限がありません。"),
    404: ("not_found", "指定されたページまたはデータが見つかりません。"),
    405: ("method_not_allowed", "このメソッドは使用できません。"),
    406: ("not_acceptable", "指定された形式では応答できません。"),
    413: ("payload_too_large", "リクエストのサイズが大きすぎます。"),
    415: ("unsupported_media_type", "このContent-Typeには対応していません。"),
    429: ("too_many_requests", "しばらく時間をおいてから再度お試しください。"),
}

# pydantic error type -> (stable code, Japanese message)
_PYDANTIC_CODES: dict[str, tuple[str, str]] = {
    "missing": ("required", "必須項目です。"),
    "json_invalid": ("malformed_json", "JSONの形式が正しくありません。"),
    "json_type": ("malformed_json", "JSONの形式が正しくありません。"),
    "model_attributes_type": ("invalid_type", "オブジェクトで指定してください。"),
    "dict_type": ("invalid_type", "オブジェクトで指定してください。"),
    "string_type": ("invalid_type", "文字列で入力してください。"),
    "int_type": ("invalid_type", "整数で入力してください。"),
    "int_parsing": ("invalid_type", "整数で入力してください。"),
    "int_from_float": ("invalid_type", "整数で入力してください。"),
    "bool_type": ("invalid_type", "true または false で指定してください。"),
    "bool_parsing": ("invalid_type", "true または false で指定してください。"),
    "list_type": ("invalid_type", "配列で指定してください。"),
    "literal_error": ("invalid_choice", "指定できない値です。"),
    "enum": ("invalid_choice", "指定できない値です。"),
    "string_too_long": ("too_long", "文字数が多すぎます。"),
    "string_too_short": ("too_short", "文字数が足りません。"),
    "too_long": ("too_long", "指定できる件数を超えています。"),
    "too_short": ("too_short", "件数が足りません。"),
    "string_pattern_mismatch": ("invalid_format", "形式が正しくありません。"),
    "greater_than": ("out_of_range", "値が小さすぎます。"),
    "greater_than_equal": ("out_of_range", "値が小さすぎます。"),
    "less_than": ("out_of_range", "値が大きすぎます。"),
    "less_than_equal": ("out_of_range", "値が大きすぎます。"),
    "uuid_parsing": ("invalid_format", "IDの形式が正しくありません。"),
    "uuid_type": ("invalid_format", "IDの形式が正しくありません。"),
    "date_from_datetime_parsing": ("invalid_format", "日付の形式が正しくありません。"),
    "date_parsing": ("invalid_format", "日付の形式が正しくありません。"),
    "extra_forbidden": ("unknown_field", "この項目は指定できません。"),
    "value_error": ("invalid_value", "値が正しくありません。"),
    "string_unicode": ("invalid_encoding", "文字コードが正しくありません。"),
}


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source, parts = parts[0], parts[1:]
        if source != "body" and parts:
            return f"{source}.{'.'.join(parts)}"
    return ".".join(parts) or "body"


#: pydantic error type -> a message naming the limit (from the error's ``ctx``)
_WITH_LIMIT: dict[str, tuple[str, str]] = {
    "greater_than": ("gt", "{}より大きい値を指定してください。"),
    "greater_than_equal": ("ge", "{}以上の値を指定してください。"),
    "less_than": ("lt", "{}より小さい値を指定してください。"),
    "less_than_equal": ("le", "{}以下の値を指定してください。"),
    "string_too_long": ("max_length", "{}文字以内で入力してください。"),
    "string_too_short": ("min_length", "{}文字以上で入力してください。"),
    "too_long": ("max_length", "{}件以内で指定してください。"),
    "too_short": ("min_length", "{}件以上で指定してください。"),
}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _message(err: Any, fallback: str) -> str:
    """The most specific Japanese message: a validator's own, or one naming the limit."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "value_error" and _JAPANESE.search(str(ctx.get("error", ""))):
        return str(ctx["error"])
    if kind == "literal_error" and (choices := re.findall(r"'([^']*)'", str(ctx.get("expected")))):
        return f"次のいずれかを指定してください: {'、'.join(choices)}"
    if kind in _WITH_LIMIT:
        key, template = _WITH_LIMIT[kind]
        if key in ctx:
            limit = ctx[key]
            return template.format(f"{limit:,}" if isinstance(limit, int) else limit)
    return fallback


def validation_problems(errors: Sequence[Any]) -> list[FieldProblem]:
    problems = []
    for err in errors:
        code, message = _PYDANTIC_CODES.get(
            str(err.get("type", "")), ("invalid_value", "値が正しくありません。")
        )
        message = _message(err, message)
        # a JSON decode error's loc is ("body", <char offset>): it names no field
        is_json_error = err.get("type") == "json_invalid"
        path = "body" if is_json_error else _field_path(err.get("loc", ()))
        problems.append(FieldProblem(field=path, code=code, message=message))
    return problems


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        exc.status,
        exc.code,
        exc.message,
        title=exc.title,
        errors=exc.errors,
        headers=dict(exc.headers) if exc.headers else None,
        instance=request.url.path,
    )


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors())
    if any(p.code == "malformed_json" for p in problems):
        return problem_response(
            422,
            "malformed_json",
            "リクエスト本文のJSONを解釈できません。",
            errors=[p for p in problems if p.code == "malformed_json"],
            instance=request.url.path,
        )
    return problem_response(
        422,
        "validation_failed",
        "入力内容に誤りがあります。各項目をご確認ください。",
        errors=problems,
        instance=request.url.path,
    )


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "リクエストを処理できません。"))
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(
        exc.status_code,
        code,
        message,
        headers=headers or None,
        instance=request.url.path,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path accepts (FastAPI has a route per method)."""
    from starlette.routing import Match

    routes = getattr(getattr(request.app, "router", None), "routes", [])
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        for route in routes:
            try:
                match, _ = route.matches(probe)
            except Exception:  # noqa: S112 - a route that cannot say is simply not counted
                continue
            if match == Match.FULL:
                allowed.append(method)
                break
    return allowed


#: how long a client is asked to wait before trying again after a 503 (seconds)
RETRY_AFTER_SECONDS = 5


def unexpected_error_response(exc: BaseException, instance: str | None = None) -> JSONResponse:
    """The answer to an error no handler took: 503 with ``Retry-After`` when a server
    could not be reached in time, else 500 (a bug)."""
    if is_unavailable(exc):
        return problem_response(
            503,
            "service_unavailable",
            "ただいま処理できません。しばらく時間をおいて再度お試しください。",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            instance=instance,
        )
    return problem_response(
        500,
        "internal_error",
        "システムエラーが発生しました。時間をおいて再度お試しください。",
        instance=instance,
    )


def log_unexpected_error(exc: BaseException, **fields: Any) -> None:
    """A bug is logged with its traceback; an unreachable server with its error only."""
    import structlog

    log = structlog.get_logger("pbx.http")
    if is_unavailable(exc):
        log.warning(
            "dependency_unavailable", error_type=type(exc).__name__, error=str(exc), **fields
        )
    else:
        log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc, **fields)


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log_unexpected_error(exc, path=request.url.path)
    return unexpected_error_response(exc, instance=request.url.path)


#: declared on every route so OpenAPI documents the problem responses
def problem_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem+json answers for the given statuses.

    ``described`` adds a description per status (``s401="not logged in"``).
    """
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": described.get(f"s{status}", _TITLES.get(status, "Error")),
        }
        for status in statuses
    }


PROBLEM_RESPONSES = problem_responses(
    400,
    413,
    422,
    431,
    503,
    s431="too many request headers, or too large (request_header_fields_too_large)",
    s503="a server it needs did not answer in time (service_unavailable); retry after "
    "Retry-After seconds",
)
