"""Throttling in moving windows, counted in the auth schema so every replica sees the same counts.

Only failures count, and windows slide: an attacker can slow guessing against an account
to a handful per window, but the owner is never locked out for longer than one window.
Each counted hit is a row of `throttle_hits` (bucket, keyed hash of the email or IP, time
from `clock.utcnow`); housekeeping deletes hits older than the longest window.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from limits import parse

from tdc_shared.db import Database
from tdc_shared.envelope import TooManyRequests

from .clock import utcnow
from .models import canonical_email
from .queries import throttle_hits
from .settings import AuthSettings

LOGIN_ACCOUNT = "login-account"
LOGIN_CLIENT = "login-client"


@dataclass(frozen=True)
class Limit:
    amount: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> Limit:
        """`limits` syntax, e.g. "5/15 minutes"."""
        item = parse(text)
        return cls(item.amount, timedelta(seconds=item.get_expiry()))

    def retry_after(self, oldest: datetime | None, now: datetime) -> int:
        """Seconds until the oldest counted hit leaves the window, at least 1."""
        return max(1, math.ceil(((oldest or now) + self.window - now).total_seconds()))


@dataclass(frozen=True)
class LoginAttempt:
    """A counted sign-in attempt: it stays counted as a failure unless it succeeds."""

    throttle: Throttle
    account: str
    hit_ids: tuple[int, ...]  # (account hit, client hit)

    async def succeeded(self) -> None:
        """The password was right: the account's failures are forgiven, and this attempt is no failure."""
        async with self.throttle.db.transaction() as tx:
            await throttle_hits.clear(tx, LOGIN_ACCOUNT, self.account)
            await throttle_hits.remove(tx, self.hit_ids[1])

    async def withdraw(self) -> None:
        """Uncount this attempt alone (it was never a guess)."""
        async with self.throttle.db.transaction() as tx:
            for hit_id in self.hit_ids:
                await throttle_hits.remove(tx, hit_id)


class Throttle:
    def __init__(self, settings: AuthSettings, db: Database) -> None:
        self.db = db
        # Keyed, so that someone reading the table cannot confirm a guessed address by hashing it.
        secret = settings.auth_session_secret.encode()
        self._subject_key = hmac.new(secret, b"throttle-subject", hashlib.sha256).digest()
        self.account_limit = Limit.parse(settings.auth_login_account_limit)
        self.client_limit = Limit.parse(settings.auth_login_client_limit)
        self.email_limit = Limit.parse(settings.auth_email_request_limit)
        # Older hits are outside every window; housekeeping deletes them.
        self.longest_window = max(limit.window for limit in (self.account_limit, self.client_limit, self.email_limit))

    def subject(self, key: str) -> str:
        """What the table stores for an email or IP: a keyed hash, never the address itself."""
        return hmac.new(self._subject_key, key.lower().encode(), hashlib.sha256).hexdigest()

    async def begin_login(self, account: str, client: str) -> LoginAttempt:
        """Count a sign-in attempt before its password is checked; 429 while the account or the
        client has used up its failures.

        Counted first, so that a burst of parallel guesses is held to the limit as well: checking
        first and counting after the failure would let every guess of the burst through. A success
        withdraws the attempt, so in the end only failures count.
        """
        account = self.subject(account)
        hit_ids = await self._admit(
            ((self.account_limit, LOGIN_ACCOUNT, account), (self.client_limit, LOGIN_CLIENT, self.subject(client))),
            "Too many failed sign-in attempts; try again later",
        )
        return LoginAttempt(self, account, tuple(hit_ids))

    async def email_request(self, purpose: str, account: str) -> None:
        """Count one mail-triggering request for `account`; 429 beyond the limit (same for any address)."""
        await self._admit(
            ((self.email_limit, f"email-{purpose}", self.subject(account)),), "Too many requests for this address"
        )

    async def _admit(self, counted: Sequence[tuple[Limit, str, str]], refusal: str) -> list[int]:
        """Count one hit for each (limit, bucket, subject); if any window then holds more than its
        limit, withdraw them all and refuse (429). Returns the hits' ids.

        Our hits are committed before we count, and we count every hit in the window, racing ones
        included: the last of any racing requests to commit then sees all the others, so together
        they never pass the limit (they may refuse each other instead). Counting only the ids up to
        ours lets too many through: a lower id can commit after our count.
        """
        now = utcnow()
        async with self.db.transaction() as tx:
            hit_ids = [await throttle_hits.add(tx, bucket, subject, now) for _, bucket, subject in counted]
        retry_after: int | None = None
        async with self.db.transaction() as tx:
            for limit, bucket, subject in counted:
                hits, oldest = await throttle_hits.count(tx, bucket, subject, now - limit.window)
                if hits > limit.amount:
                    retry_after = limit.retry_after(oldest, now)
                    for hit_id in hit_ids:
                        await throttle_hits.remove(tx, hit_id)  # a refused request does not count
                    break
        if retry_after is not None:  # raised after the commit, which would otherwise roll the removal back
            raise TooManyRequests(retry_after, refusal)
        return hit_ids


def account_key(user: object, email: str) -> str:
    """What throttles count under: the account once known (whatever spelling found it), else the
    address in its canonical form (so every spelling of an unknown address shares one count)."""
    if user is not None:
        return f"user:{user['id']}"  # type: ignore[index]
    try:
        return f"email:{canonical_email(email)}"
    except ValueError:
        return f"email:{email.strip().casefold()}"


def client_address(request: Request) -> str:
    """The caller's IP, as tdc_shared's ForwardedClientMiddleware resolved it: from X-Forwarded-For
    only when the peer is one of TDC_TRUSTED_PROXIES (the gateway), always a valid address."""
    return request.client.host if request.client else "unknown"
