"""Throttling with `limits` (moving windows, in-process memory).

Only failures count, and windows slide: an attacker can slow guessing against an account
to a handful per window, but the owner is never locked out for longer than one window.
Memory storage is per replica; with N replicas the effective limit is at most N times higher.
"""

from __future__ import annotations

import time
from ipaddress import ip_address

from fastapi import Request
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from tdc_shared.envelope import TooManyRequests

from .settings import AuthSettings


class Throttle:
    def __init__(self, settings: AuthSettings) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.account_limit = parse(settings.auth_login_account_limit)
        self.client_limit = parse(settings.auth_login_client_limit)
        self.email_limit = parse(settings.auth_email_request_limit)

    async def _retry_after(self, limit, *keys: str) -> int:  # type: ignore[no-untyped-def]
        stats = await self.limiter.get_window_stats(limit, *keys)
        return max(1, int(stats.reset_time - time.time()) + 1)

    async def check_login(self, email: str, client: str) -> None:
        """Refuse (429) while this account or this client has used up its failures."""
        for limit, key in (
            (self.account_limit, ("login-account", email)),
            (self.client_limit, ("login-client", client)),
        ):
            if not await self.limiter.test(limit, *key):
                raise TooManyRequests(
                    await self._retry_after(limit, *key), "Too many failed sign-in attempts; try again later"
                )

    async def login_failed(self, email: str, client: str) -> None:
        await self.limiter.hit(self.account_limit, "login-account", email)
        await self.limiter.hit(self.client_limit, "login-client", client)

    async def login_succeeded(self, email: str) -> None:
        await self.limiter.clear(self.account_limit, "login-account", email)

    async def email_request(self, purpose: str, email: str) -> None:
        """Count one mail-triggering request for `email`; 429 beyond the limit (same for any address)."""
        if not await self.limiter.hit(self.email_limit, purpose, email):
            raise TooManyRequests(
                await self._retry_after(self.email_limit, purpose, email), "Too many requests for this address"
            )


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The caller's IP: the right-most X-Forwarded-For hop not added by a proxy we trust."""
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            ip_address(hop)
        except ValueError:
            return peer
        if hop not in trusted_proxies:
            return hop
    return peer
