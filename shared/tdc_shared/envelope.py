"""The response envelope of every answer, errors included.

    {"success": true,  "data": ..., "meta": {...}}
    {"success": false, "error": "message", "errors": {"field": ["problem", ...]}}

`install_error_handlers` makes FastAPI/Starlette answer 404, 405, 422, 500 and 503 in this
shape; routes raise `ApiError` (or its named subclasses) for everything else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from mysql.connector import errors as mysql_errors
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .db import LOCK_CONFLICTS, DatabaseUnavailable
from .timefmt import utc_iso

log = logging.getLogger(__name__)

FieldErrors = dict[str, list[str]]


class ErrorEnvelope(BaseModel):
    """Every error answer, as OpenAPI shows it."""

    success: Literal[False] = False
    error: str = Field(description="What went wrong, for people")
    errors: FieldErrors | None = Field(
        default=None, description="Per input field (dotted path), what is wrong with it; on 422"
    )


# Documented on every operation (`include_router(..., responses=ERROR_RESPONSES)`): any 4xx or 5xx,
# from the service or the gateway in front of it, comes in the envelope. Declaring the ranges also
# stops FastAPI documenting its own 422 body, which our handlers never send.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorEnvelope, "description": "Client error, in the error envelope"},
    "5XX": {"model": ErrorEnvelope, "description": "Server or upstream error, in the error envelope"},
}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class EnvelopeResponse(JSONResponse):
    """JSON as every service answers: compact UTF-8, datetimes in the one UTC format (timefmt)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
        ).encode("utf-8")


def ok(
    data: Any = None,
    *,
    meta: Mapping[str, Any] | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta:
        body["meta"] = dict(meta)
    return EnvelopeResponse(body, status_code=status, headers=dict(headers or {}))


def created(data: Any = None) -> JSONResponse:
    return ok(data, status=201)


def no_content() -> Response:
    return Response(status_code=204)


def error_body(message: str, errors: FieldErrors | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": message}
    if errors:
        body["errors"] = errors
    return body


def envelope_bytes(message: str) -> bytes:
    """The error envelope as compact JSON bytes, for answers written below FastAPI."""
    return json.dumps(error_body(message), separators=(",", ":")).encode()


def fail(
    message: str, status: int, errors: FieldErrors | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, errors), status_code=status, headers=dict(headers or {}))


class ApiError(Exception):
    """An error the client caused or must know about; rendered in the envelope."""

    status = 400
    message = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: FieldErrors | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.errors = errors
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})
        super().__init__(self.message)


class BadRequest(ApiError):
    status, message = 400, "Bad request"


class Unauthorized(ApiError):
    status, message = 401, "Authentication required"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(ApiError):
    status, message = 403, "Forbidden"


class NotFound(ApiError):
    status, message = 404, "Resource not found"


class Conflict(ApiError):
    status, message = 409, "Conflict"


class Unprocessable(ApiError):
    status, message = 422, "Validation failed"


class TooManyRequests(ApiError):
    status, message = 429, "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})


class ServiceUnavailable(ApiError):
    status, message = 503, "Service temporarily unavailable"


_STATUS_MESSAGES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


def field_errors(exc: RequestValidationError) -> FieldErrors:
    """Pydantic's error list as {"field.path": [messages]} (without the body/query prefix)."""
    out: FieldErrors = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        key = ".".join(loc) or "body"
        message = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        out.setdefault(key, []).append(message)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return fail(exc.message, exc.status, exc.errors, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) and exc.detail else None
        if exc.status_code == 404 and message == "Not Found":
            message = None
        if exc.status_code == 405 and message == "Method Not Allowed":
            message = None
        message = message or _STATUS_MESSAGES.get(exc.status_code, "Request failed")
        return fail(message, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return fail("Validation failed", 422, field_errors(exc))

    @app.exception_handler(DatabaseUnavailable)
    async def _db_unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return fail("Service temporarily unavailable", 503, headers={"Retry-After": "5"})

    @app.exception_handler(mysql_errors.DatabaseError)
    async def _database_error(request: Request, exc: mysql_errors.DatabaseError) -> JSONResponse:
        if exc.errno in LOCK_CONFLICTS:
            # Chosen as a deadlock victim, or out of lock-wait time: InnoDB rolled the statement
            # (or the transaction) back, so nothing was applied and the same request can be sent again.
            log.warning("lock conflict on %s %s: %s", request.method, request.url.path, exc)
            return fail("The server is busy; try again", 503, headers={"Retry-After": "1"})
        log.exception("database error on %s %s", request.method, request.url.path)
        return fail("Internal server error", 500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return fail("Internal server error", 500)
