"""What the Google and Facebook clients share: how a failed push is told to the worker, the
backoff with jitter, the call log with secrets redacted."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from tdc_shared.db import Database, DatabaseUnavailable

from ..queries import logs as log_queries

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(r"token|secret|assertion|password|authorization|private_key|signature|code_hash", re.I)
_SECRET_IN_TEXT = re.compile(r"(access_token|assertion|token|client_secret)=([^&\s\"']+)", re.I)
_BEARER = re.compile(r"(Bearer|OAuth)\s+[A-Za-z0-9._~+/=-]+", re.I)
MAX_LOGGED_CHARS = 20_000


def redact(value: Any) -> Any:
    """A copy with every secret replaced: values under secret-looking keys, tokens in query
    strings and Authorization values inside text."""
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEYS.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1 " + REDACTED, _SECRET_IN_TEXT.sub(r"\1=" + REDACTED, value))
    return value


def as_log_text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(redact(value), ensure_ascii=False, default=str)
    return redact(text)[:MAX_LOGGED_CHARS] if isinstance(text, str) else None


Kind = Literal["park", "stop", "reauth", "pause"]


class PushFailed(Exception):
    """A push that cannot be finished now. `kind` tells the worker what to do with it:
    park (the sweep retries it), stop (only an admin retries it), reauth (the integration waits
    for a new token), pause (the integration waits until `until`)."""

    def __init__(self, message: str, kind: Kind = "park", until: datetime | None = None) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.until = until


class Transient(Exception):
    """A call worth trying again after a pause (rate limits, 5xx, network errors)."""


class Backoff:
    def __init__(self, attempts: int, base: float, cap: float, sleep: Callable[[float], Awaitable[None]] | None = None):
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self._sleep = sleep or asyncio.sleep

    def delay(self, attempt: int) -> float:
        """Exponential, with "equal jitter": half fixed, half random, so replicas spread out."""
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return await call()
            except Transient as exc:
                if attempt == self.attempts:
                    raise PushFailed(f"gave up after {attempt} attempts: {exc}") from exc
                await self._sleep(self.delay(attempt))
        raise AssertionError("unreachable")


class CallLog:
    """Writes one integration_logs row per external call, each in its own transaction: the log
    must keep failures too, whatever happens to the push."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(
        self,
        integration: str,
        action: str,
        *,
        ok: bool,
        target: str | None = None,
        catalog_id: int | None = None,
        http_status: int | None = None,
        request: Any = None,
        response: Any = None,
        error: str | None = None,
    ) -> None:
        entry = {
            "integration": integration,
            "action": action,
            "target": target,
            "catalog_id": catalog_id,
            "status": "ok" if ok else "error",
            "http_status": http_status,
            "request": as_log_text(request),
            "response": as_log_text(response),
            "error": redact(error) if error else None,
        }
        try:
            async with self.db.transaction() as tx:
                await log_queries.write(tx, entry)
        except DatabaseUnavailable as exc:
            log.warning("integration log entry lost: %s", exc)


def json_or_text(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")[:2000]
