"""Patreon's API v2 as this service uses it, on httpx2: the creator's reads (campaign, tiers,
members), the OAuth code exchange and the linking member's identity.

Every address is built on `TDC_MEMBERSHIP_PATREON_API_URL`, so tests point it at a local fake.
Transient failures (connection errors, timeouts, 5xx) are retried with exponential backoff and
full jitter; a 429 waits for the pause Patreon asks for (`retry_after_seconds` in the JSON:API
error, else `Retry-After`), plus a little jitter, unless that pause is longer than we are
willing to wait. Brackets in JSON:API query keys are URL-encoded, as Patreon requires.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .settings import MembershipSettings

log = logging.getLogger(__name__)

MEMBER_FIELDS = ",".join(
    (
        "full_name",
        "email",
        "patron_status",
        "currently_entitled_amount_cents",
        "lifetime_support_cents",
        "pledge_relationship_start",
        "last_charge_date",
        "last_charge_status",
    )
)
TIER_FIELDS = "title,amount_cents,description,url,published"
USER_FIELDS = "full_name,email"
MEMBER_INCLUDE = "currently_entitled_tiers,user,campaign"
SCOPES = "identity identity[email] identity.memberships"


class PatreonError(Exception):
    """Patreon did not give us what we asked for; the message is safe to log and show to admins."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PatreonUnauthorized(PatreonError):
    """401/403: the token is wrong, expired or lacks a scope."""


class PatreonThrottled(PatreonError):
    """429 with a pause longer than we wait, or still 429 after every attempt."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class PatreonUnavailable(PatreonError):
    """Unreachable, too slow, or 5xx after every attempt."""


class _Retryable(Exception):
    def __init__(self, error: PatreonError, wait: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait  # the pause Patreon asked for (429), else None: backoff


def _error_detail(response: httpx2.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        first = errors[0] if errors else {}
        return str(first.get("detail") or first.get("title") or response.reason_phrase)[:200]
    except (ValueError, AttributeError, IndexError, TypeError):
        return response.reason_phrase


def retry_after(response: httpx2.Response) -> float:
    """The pause a 429 asks for: JSON:API `retry_after_seconds`, else `Retry-After`, else 1 s."""
    try:
        errors = response.json().get("errors") or []
        for error in errors:
            value = error.get("retry_after_seconds")
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return float(value)
    except (ValueError, AttributeError, TypeError):
        pass
    header = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(header))
    except ValueError:
        return 1.0


@dataclass
class RequestCounters:
    """What the client went through, for sync runs to report."""

    throttled: int = 0
    retried: int = 0


class PatreonClient:
    def __init__(
        self,
        settings: MembershipSettings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.base = settings.membership_patreon_api_url.rstrip("/")
        self.settings = settings
        self.max_attempts = settings.membership_patreon_max_attempts
        self.max_wait = settings.membership_patreon_max_retry_wait_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.counters = RequestCounters()
        self._http = httpx2.AsyncClient(
            timeout=settings.membership_patreon_timeout_seconds,
            transport=transport,
            headers={"User-Agent": "DreamersCave-Membership/1.0"},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- addresses ---------------------------------------------------------------------------

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.settings.membership_patreon_client_id,
            "redirect_uri": self.settings.membership_patreon_redirect_uri,
            "scope": SCOPES,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.base}/oauth2/authorize?{urlencode(query)}"

    def _members_query(self, cursor: str | None) -> dict[str, str]:
        query = {
            "include": MEMBER_INCLUDE,
            "fields[member]": MEMBER_FIELDS,
            "fields[tier]": TIER_FIELDS,
            "fields[user]": USER_FIELDS,
            "page[count]": str(self.settings.membership_patreon_page_size),
        }
        if cursor:
            query["page[cursor]"] = cursor
        return query

    # -- the creator's reads -----------------------------------------------------------------

    def _creator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.membership_patreon_access_token}"}

    async def campaign(self) -> dict[str, Any]:
        campaign_id = self.settings.membership_patreon_campaign_id
        query = {"include": "tiers", "fields[campaign]": "url,patron_count,vanity", "fields[tier]": TIER_FIELDS}
        return await self._get(f"/api/oauth2/v2/campaigns/{campaign_id}", query, self._creator())

    async def members_page(self, cursor: str | None) -> dict[str, Any]:
        campaign_id = self.settings.membership_patreon_campaign_id
        return await self._get(
            f"/api/oauth2/v2/campaigns/{campaign_id}/members", self._members_query(cursor), self._creator()
        )

    async def member(self, member_id: str) -> dict[str, Any] | None:
        """The member's current state, or None when Patreon no longer knows the member (404)."""
        query = {k: v for k, v in self._members_query(None).items() if not k.startswith("page[")}
        try:
            return await self._get(f"/api/oauth2/v2/members/{member_id}", query, self._creator())
        except PatreonError as exc:
            if exc.status == 404:
                return None
            raise

    # -- linking -----------------------------------------------------------------------------

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        """The member's access token for the code Patreon sent the browser back with."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.settings.membership_patreon_client_id,
            "client_secret": self.settings.membership_patreon_client_secret,
            "redirect_uri": self.settings.membership_patreon_redirect_uri,
            "code_verifier": code_verifier,
        }
        body = await self._send("POST", "/api/oauth2/token", headers={}, data=form)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PatreonError("token endpoint answered without an access_token")
        return token

    async def identity(self, member_token: str) -> dict[str, Any]:
        query = {
            "include": "memberships,memberships.currently_entitled_tiers,memberships.campaign",
            "fields[user]": USER_FIELDS,
            "fields[member]": MEMBER_FIELDS,
            "fields[tier]": TIER_FIELDS,
        }
        return await self._get("/api/oauth2/v2/identity", query, {"Authorization": f"Bearer {member_token}"})

    # -- transport ---------------------------------------------------------------------------

    async def _get(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, Any]:
        return await self._send("GET", f"{path}?{urlencode(query)}", headers=headers)

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            return exc.wait + random.uniform(0, 0.25)  # Patreon's pause, a little spread out
        # Full jitter: anywhere up to the exponential bound, so replicas do not retry in step.
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (state.attempt_number - 1)))

    async def _send(
        self, method: str, path: str, *, headers: Mapping[str, str], data: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.counters.retried += 1
                    return await self._once(method, path, headers, data)
        except _Retryable as exc:
            raise exc.error from None
        raise PatreonUnavailable("no attempt was made")  # pragma: no cover (stop_after_attempt >= 1)

    async def _once(
        self, method: str, path: str, headers: Mapping[str, str], data: Mapping[str, str] | None
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, self.base + path, headers={"Accept": "application/json", **headers}, data=data
            )
        except httpx2.TimeoutException as exc:
            raise _Retryable(PatreonUnavailable(f"Patreon did not answer in time ({type(exc).__name__})")) from exc
        except httpx2.TransportError as exc:
            raise _Retryable(PatreonUnavailable(f"Patreon is unreachable ({type(exc).__name__})")) from exc
        status = response.status_code
        if status == 429:
            self.counters.throttled += 1
            pause = retry_after(response)
            if pause > self.max_wait:
                raise PatreonThrottled(f"Patreon asks to wait {pause:g} s", pause)
            raise _Retryable(PatreonThrottled(f"Patreon throttled us ({_error_detail(response)})", pause), pause)
        if status >= 500:
            raise _Retryable(PatreonUnavailable(f"Patreon answered {status}", status))
        if status in (401, 403):
            raise PatreonUnauthorized(f"Patreon refused the token: {_error_detail(response)}", status)
        if status >= 400:
            raise PatreonError(f"Patreon answered {status}: {_error_detail(response)}", status)
        try:
            body = response.json()
        except ValueError as exc:
            raise PatreonError("Patreon answered with something other than JSON") from exc
        if not isinstance(body, dict):
            raise PatreonError("Patreon answered with something other than a JSON object")
        return body
