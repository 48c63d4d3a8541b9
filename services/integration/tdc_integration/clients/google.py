"""Google Calendar v3 as a service account: the token, the calls, and the push of one event.

The access token comes from a JWT assertion (RS256, signed with the account's private key,
claims iss/scope/aud/iat/exp with exp = iat + 3600) exchanged at the token endpoint; it is
kept until a minute before it expires, and a 401 fetches a new one once.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx2
import jwt

from .. import render
from ..settings import IntegrationSettings
from .base import Backoff, CallLog, PushFailed, Transient, json_or_text

INTEGRATION = "google"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600
REFRESH_MARGIN = 60
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


class CredentialsError(ValueError):
    pass


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key: str
    private_key_id: str | None

    @classmethod
    def load(cls, path: Path) -> ServiceAccount:
        try:
            data = json.loads(path.read_text())
            return cls(str(data["client_email"]), str(data["private_key"]), data.get("private_key_id"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CredentialsError(f"cannot read the service-account file {path}: {type(exc).__name__}") from exc


def error_reason(body: Any) -> str:
    try:
        return str(body["error"]["errors"][0]["reason"])
    except (KeyError, IndexError, TypeError):
        return ""


def next_quota_reset(now: datetime) -> datetime:
    """Google's daily quotas reset at midnight Pacific time."""
    pacific = now.astimezone(ZoneInfo("America/Los_Angeles"))
    midnight = (pacific + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC).replace(tzinfo=None)


class GoogleCalendar:
    def __init__(
        self,
        settings: IntegrationSettings,
        http: httpx2.AsyncClient,
        calls: CallLog,
        backoff: Backoff,
        clock: Any = time.time,
    ) -> None:
        assert settings.integration_google_credentials_file is not None
        self.settings = settings
        self.account = ServiceAccount.load(settings.integration_google_credentials_file)
        self.http = http
        self.calls = calls
        self.backoff = backoff
        self.clock = clock
        self.api = settings.integration_google_api_url.rstrip("/")
        self.calendars = {
            "internal": settings.integration_google_internal_calendar_id,
            "public": settings.integration_google_public_calendar_id,
        }
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def targets(self) -> list[str]:
        return [name for name, calendar in self.calendars.items() if calendar]

    # -- the token ---------------------------------------------------------------------------

    def assertion(self) -> str:
        now = int(self.clock())
        claims = {
            "iss": self.account.client_email,
            "scope": self.settings.integration_google_scope,
            "aud": self.settings.integration_google_token_url,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
        }
        headers = {"kid": self.account.private_key_id} if self.account.private_key_id else None
        try:
            return jwt.encode(claims, self.account.private_key, algorithm="RS256", headers=headers)
        except (ValueError, TypeError) as exc:
            raise PushFailed(f"the service-account key cannot sign: {type(exc).__name__}", "stop") from exc

    async def token(self, *, fresh: bool = False) -> str:
        async with self._token_lock:
            if not fresh and self._token and self.clock() < self._token_expires - REFRESH_MARGIN:
                return self._token
            self._token = None
            token, lifetime = await self.backoff.run(self._fetch_token)
            self._token, self._token_expires = token, self.clock() + lifetime
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        url = self.settings.integration_google_token_url
        form = {"grant_type": JWT_BEARER, "assertion": self.assertion()}
        request = {"method": "POST", "url": url, "form": form}
        try:
            response = await self.http.post(url, data=form)
        except httpx2.HTTPError as exc:
            await self.calls.write(
                INTEGRATION, "token", ok=False, request=request, error=f"{type(exc).__name__}: {exc}"
            )
            raise Transient(f"token endpoint unreachable: {type(exc).__name__}") from exc
        body = json_or_text(response.content)
        good = response.status_code == 200 and isinstance(body, dict) and "access_token" in body
        error = None if good else f"token endpoint answered {response.status_code}"
        if isinstance(body, dict) and body.get("error"):
            error = f"{body.get('error')}: {body.get('error_description', '')}"
        await self.calls.write(
            INTEGRATION, "token", ok=good, http_status=response.status_code, request=request, response=body, error=error
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise Transient(error or "token endpoint unavailable")
        if not good:
            # invalid_grant and friends: the key or the clock is wrong; retrying will not help.
            raise PushFailed(error or "no access token", "park")
        assert isinstance(body, dict)
        return str(body["access_token"]), float(body.get("expires_in") or TOKEN_LIFETIME)

    # -- calls -------------------------------------------------------------------------------

    async def call(
        self, method: str, path: str, *, body: Any = None, action: str, target: str, catalog_id: int
    ) -> tuple[int, Any]:
        """(status, parsed body) of one API call, after retrying what is worth retrying.

        Returns 2xx, 404, 409 and 410 answers to the caller (they mean something to a push);
        raises PushFailed for the rest."""

        async def attempt() -> tuple[int, Any]:
            return await self._once(method, path, body, action, target, catalog_id)

        return await self.backoff.run(attempt)

    async def _once(
        self, method: str, path: str, body: Any, action: str, target: str, catalog_id: int
    ) -> tuple[int, Any]:
        url = f"{self.api}{path}"
        request = {"method": method, "url": url, "body": body}
        refreshed = False
        while True:
            token = await self.token(fresh=refreshed)
            try:
                response = await self.http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
            except httpx2.HTTPError as exc:
                await self.calls.write(
                    INTEGRATION,
                    action,
                    ok=False,
                    target=target,
                    catalog_id=catalog_id,
                    request=request,
                    error=f"{type(exc).__name__}: {exc}",
                )
                raise Transient(f"{type(exc).__name__}") from exc
            status = response.status_code
            answer = json_or_text(response.content) if response.content else None
            reason = error_reason(answer)
            good = status < 300
            await self.calls.write(
                INTEGRATION,
                action,
                ok=good,
                target=target,
                catalog_id=catalog_id,
                http_status=status,
                request=request,
                response=answer,
                error=None if good else f"{status} {reason}".strip(),
            )
            if status == 401 and not refreshed:
                refreshed = True  # the token was revoked or expired early: one new one
                continue
            break
        if good or status in (404, 409, 410):
            return status, answer
        if status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS):
            raise Transient(f"{status} {reason}".strip())
        if status == 403 and reason == "quotaExceeded":
            pause = self.settings.integration_google_quota_pause_seconds
            now = datetime.now(UTC)
            until = (
                (now + timedelta(seconds=pause)).replace(tzinfo=None) if pause is not None else next_quota_reset(now)
            )
            raise PushFailed("403 quotaExceeded: calls stop until the quota window ends", "pause", until)
        raise PushFailed(f"{status} {reason}".strip())

    def _event_path(self, target: str, event_id: str | None = None) -> str:
        path = f"/calendars/{quote(self.calendars[target], safe='')}/events"
        return f"{path}/{event_id}" if event_id else path

    # -- one push ----------------------------------------------------------------------------

    async def push(self, target: str, row: dict[str, Any]) -> str:
        """Make calendar `target` show the read model's state of one event; returns what it did."""
        snapshot, catalog_id = row["snapshot"], int(row["catalog_id"])
        event_id = render.google_event_id(row["uid"])
        path = self._event_path(target, event_id)
        if row["status"] == "deleted":
            status, _ = await self.call("DELETE", path, action="delete", target=target, catalog_id=catalog_id)
            return "deleted" if status < 300 else "already gone"
        body = render.google_body(snapshot, target, self.settings)
        status, current = await self.call("GET", path, action="get", target=target, catalog_id=catalog_id)
        if status < 300 and isinstance(current, dict):
            shown = _shown_sequence(current)
            if shown is not None and shown > int(row["sequence"]):
                return "skipped: the calendar shows a newer revision"
            return await self._update(path, body, event_id, target, catalog_id)
        return await self._insert(body, event_id, target, catalog_id)

    async def _insert(self, body: dict[str, Any], event_id: str, target: str, catalog_id: int) -> str:
        status, _ = await self.call(
            "POST",
            self._event_path(target),
            body={**body, "id": event_id},
            action="insert",
            target=target,
            catalog_id=catalog_id,
        )
        if status < 300:
            return "inserted"
        if status == 409:
            # The id exists (inserted by a run that lost its answer, or deleted earlier: Google
            # keeps a deleted event's id). An update puts it in the wanted state.
            return await self._update(
                self._event_path(target, event_id), body, event_id, target, catalog_id, retry=False
            )
        raise PushFailed(f"insert answered {status}")

    async def _update(
        self, path: str, body: dict[str, Any], event_id: str, target: str, catalog_id: int, *, retry: bool = True
    ) -> str:
        status, _ = await self.call("PUT", path, body=body, action="update", target=target, catalog_id=catalog_id)
        if status < 300:
            return "updated"
        if status in (404, 410) and retry:
            return await self._insert(body, event_id, target, catalog_id)
        raise PushFailed(f"update answered {status}")


def _shown_sequence(event: dict[str, Any]) -> int | None:
    try:
        return int(event["extendedProperties"]["private"]["tdcSequence"])
    except (KeyError, TypeError, ValueError):
        return None
