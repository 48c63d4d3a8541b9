"""Two replicas (two throttles on two connection pools, one schema) see the same counts."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx2
import pytest
from auth_testkit import unique_email
from fastapi import FastAPI

import tdc_auth.throttle as throttle_module
from tdc_auth.clock import utcnow
from tdc_auth.housekeeping import purge
from tdc_auth.main import create_app
from tdc_auth.settings import AuthSettings
from tdc_auth.throttle import Throttle
from tdc_shared.db import Database
from tdc_shared.envelope import TooManyRequests

LIMITS = {
    "auth_login_account_limit": "3/15 minutes",
    "auth_login_client_limit": "5/15 minutes",
    "auth_email_request_limit": "3/hour",
}
SIGN_IN_REFUSED = "Too many failed sign-in attempts; try again later"
MAIL_REFUSED = "Too many requests for this address"


class Clock:
    """The throttle's `utcnow`, standing still until a test moves it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(throttle_module, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
async def replicas(auth_app: FastAPI, auth_settings: AuthSettings) -> AsyncIterator[tuple[Throttle, Throttle]]:
    """`auth_app` has migrated the schema; each replica gets a pool of its own on it."""
    settings = auth_settings.model_copy(update=LIMITS)
    pools = [Database(settings.mysql_url, settings.schema_for("auth")) for _ in range(2)]
    try:
        yield Throttle(settings, pools[0]), Throttle(settings, pools[1])
    finally:
        for pool in pools:
            await pool.close()


def new_ip() -> str:
    return f"2001:db8:7::{secrets.randbits(16):x}:{secrets.randbits(16):x}"


async def fail(throttle: Throttle, email: str, ip: str) -> None:
    """A sign-in attempt whose password was wrong: begun, never succeeded."""
    await throttle.begin_login(email, ip)


async def may_try(throttle: Throttle, email: str, ip: str) -> None:
    """The account and the client may still try (the probe is withdrawn, so it counts for nothing)."""
    attempt = await throttle.begin_login(email, ip)
    await attempt.withdraw()


async def refused_sign_in(throttle: Throttle, email: str, ip: str) -> str:
    """The Retry-After of the 429 that `begin_login` must raise."""
    with pytest.raises(TooManyRequests) as refused:
        await throttle.begin_login(email, ip)
    assert refused.value.message == SIGN_IN_REFUSED
    return refused.value.headers["Retry-After"]


async def refused_mail(throttle: Throttle, purpose: str, email: str) -> str:
    with pytest.raises(TooManyRequests) as refused:
        await throttle.email_request(purpose, email)
    assert refused.value.message == MAIL_REFUSED
    return refused.value.headers["Retry-After"]


async def hits(throttle: Throttle, bucket: str, key: str) -> int:
    return await throttle.db.fetch_value(
        "SELECT COUNT(*) FROM throttle_hits WHERE bucket = %s AND subject = %s", (bucket, throttle.subject(key))
    )


async def test_failures_split_across_replicas_add_up(replicas: tuple[Throttle, Throttle], clock: Clock):
    a, b = replicas
    email = unique_email()
    await fail(a, email, new_ip())
    await fail(b, email, new_ip())
    await may_try(a, email, new_ip())
    await may_try(b, email, new_ip())  # two of three: both still let the account try
    await fail(b, email, new_ip())
    assert await refused_sign_in(a, email, new_ip()) == "900"
    assert await refused_sign_in(b, email, new_ip()) == "900"
    await may_try(a, unique_email(), new_ip())  # other accounts are not affected

    ip = new_ip()  # one client guessing at many accounts, through both replicas
    for n in range(5):
        await fail(a if n % 2 else b, unique_email(), ip)
    assert await refused_sign_in(a, unique_email(), ip) == "900"
    assert await refused_sign_in(b, unique_email(), ip) == "900"
    await may_try(b, unique_email(), new_ip())  # other clients are not affected


async def test_a_burst_of_parallel_guesses_is_held_to_the_limit(replicas: tuple[Throttle, Throttle], clock: Clock):
    # Each attempt is counted before its password is checked, so guesses sent all at once
    # (here through both replicas) cannot all pass a check made before any has failed.
    a, b = replicas
    for _ in range(5):
        email = unique_email()

        async def guess(n: int, email: str = email) -> bool:
            try:
                await (a if n % 2 else b).begin_login(email, new_ip())
            except TooManyRequests:
                return False
            return True

        outcomes = await asyncio.gather(*(guess(n) for n in range(16)))
        assert sum(outcomes) <= 3  # racing attempts may refuse each other, never pass together
        assert await hits(a, "login-account", email) == sum(outcomes)  # refused attempts left no hit


async def test_a_success_on_one_replica_clears_the_account_on_both(replicas: tuple[Throttle, Throttle], clock: Clock):
    a, b = replicas
    email, ip = unique_email(), new_ip()
    await fail(a, email, ip)
    await fail(a, email, ip)
    attempt = await b.begin_login(email, ip)
    await attempt.succeeded()
    assert await hits(b, "login-account", email) == 0
    assert await hits(b, "login-client", ip) == 2  # the client's failures still count; its success does not
    # Without the clear these would be the third and fourth failures.
    await fail(b, email, ip)
    await fail(a, email, ip)
    await may_try(a, email, new_ip())
    await may_try(b, email, new_ip())
    await fail(b, email, ip)
    await refused_sign_in(a, email, new_ip())


async def test_the_window_slides_on_both_replicas(replicas: tuple[Throttle, Throttle], clock: Clock):
    a, b = replicas
    email = unique_email()
    await fail(a, email, new_ip())
    clock.advance(300)
    await fail(b, email, new_ip())
    clock.advance(300)
    await fail(a, email, new_ip())
    # Locked until the oldest failure leaves the window: 15 minutes after it, 5 from now.
    assert await refused_sign_in(a, email, new_ip()) == "300"
    clock.advance(299.5)
    assert await refused_sign_in(b, email, new_ip()) == "1"
    clock.advance(0.5)
    await may_try(a, email, new_ip())
    await may_try(b, email, new_ip())
    # A new failure refuses again, now until the second-oldest leaves.
    await fail(b, email, new_ip())
    assert await refused_sign_in(a, email, new_ip()) == "300"
    assert await refused_sign_in(b, email, new_ip()) == "300"


async def test_the_mail_limit_holds_across_replicas(replicas: tuple[Throttle, Throttle], clock: Clock):
    a, b = replicas
    email = unique_email()
    await a.email_request("reset", email)
    clock.advance(60)
    await b.email_request("reset", email)
    await a.email_request("reset", email)
    assert await refused_mail(b, "reset", email) == "3540"
    assert await refused_mail(a, "reset", email) == "3540"
    assert await hits(a, "email-reset", email) == 3  # refused requests do not count
    await b.email_request("verify", email)  # each purpose counts on its own
    await b.email_request("reset", unique_email())  # and each address
    clock.advance(3540)  # the first request leaves the window: one more fits, on either replica
    await b.email_request("reset", email)
    assert await refused_mail(a, "reset", email) == "60"


async def test_concurrent_mail_requests_on_both_replicas_never_pass_the_limit(
    replicas: tuple[Throttle, Throttle], clock: Clock
):
    a, b = replicas

    async def attempt(throttle: Throttle, email: str) -> bool:
        try:
            await throttle.email_request("reset", email)
            return True
        except TooManyRequests:
            return False

    for _ in range(5):
        email = unique_email()
        outcomes = await asyncio.gather(*(attempt(a if n % 2 else b, email) for n in range(16)))
        # Racing requests may refuse each other, never let too many through.
        assert outcomes.count(True) <= 3
        assert await hits(a, "email-reset", email) == outcomes.count(True)  # refused ones left no hit
        for n in range(3 - outcomes.count(True)):  # so one at a time, the rest of the limit still passes
            await (b if n % 2 else a).email_request("reset", email)
        await refused_mail(a, "reset", email)
        await refused_mail(b, "reset", email)


async def test_rows_hold_no_email_or_ip_in_clear(replicas: tuple[Throttle, Throttle], clock: Clock):
    a, b = replicas
    email, ip = unique_email(), new_ip()
    await fail(a, email.upper(), ip)  # the same account however it is spelled
    await fail(b, email, ip)
    await a.email_request("verify", email)
    assert await hits(a, "login-account", email) == 2
    assert await hits(a, "login-client", ip) == 2
    assert await hits(a, "email-verify", email) == 1
    clear = await a.db.fetch_value(
        "SELECT COUNT(*) FROM throttle_hits WHERE subject IN (%s, %s) OR subject LIKE %s OR bucket LIKE %s",
        (email, ip, f"%{email.split('@')[0]}%", f"%{email.split('@')[0]}%"),
    )
    assert clear == 0
    assert await a.db.fetch_value("SELECT COUNT(*) FROM throttle_hits WHERE subject NOT REGEXP '^[0-9a-f]{64}$'") == 0
    # Keyed: hashing a guessed address does not find its rows.
    guessed = [hashlib.sha256(value.lower().encode()).hexdigest() for value in (email, ip)]
    assert await a.db.fetch_value("SELECT COUNT(*) FROM throttle_hits WHERE subject IN (%s, %s)", guessed) == 0


async def test_purge_removes_hits_older_than_the_longest_window_only(
    auth_app: FastAPI, replicas: tuple[Throttle, Throttle], clock: Clock
):
    a, b = replicas
    assert a.longest_window == timedelta(hours=1)
    old, recent, ip = unique_email(), unique_email(), new_ip()
    real_now: datetime = clock.now
    clock.now = real_now - timedelta(hours=1, minutes=1)
    await fail(a, old, ip)
    await b.email_request("reset", old)
    clock.now = real_now - timedelta(minutes=59)
    await fail(b, recent, ip)
    await a.email_request("reset", recent)
    await purge(a.db, a.longest_window)
    assert await hits(a, "login-account", old) == await hits(a, "email-reset", old) == 0
    assert await hits(a, "login-account", recent) == await hits(a, "email-reset", recent) == 1
    assert await hits(a, "login-client", ip) == 1
    # The running service purges with its own throttle's longest window (5/hour for mail there).
    assert auth_app.state.auth.throttle.longest_window == timedelta(hours=1)


async def test_two_app_instances_share_their_counts(auth_app: FastAPI, auth_settings: AuthSettings):
    """Through HTTP: the wiring in `create_app` hands each instance's throttle its database."""
    other = create_app(auth_settings, bus=False)
    async with other.router.lifespan_context(other):
        clients = [
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url="https://auth.test", headers={"X-Forwarded-For": ip}
            )
            for app, ip in ((auth_app, new_ip()), (other, new_ip()))
        ]
        async with clients[0], clients[1]:
            email = unique_email()
            for n in range(5):  # the service's limit is 5 per account
                response = await clients[n % 2].post(
                    "/api/v1/auth/login", json={"email": email, "password": "wrong guess"}
                )
                assert response.status_code == 401
            for c in clients:
                response = await c.post("/api/v1/auth/login", json={"email": email, "password": "wrong guess"})
                assert response.status_code == 429
                assert response.json() == {"success": False, "error": SIGN_IN_REFUSED}
                assert 890 <= int(response.headers["retry-after"]) <= 900
            for n in range(5):  # and 5 mails per address per hour
                response = await clients[n % 2].post("/api/v1/auth/forgot-password", json={"email": email})
                assert response.status_code == 202
            for c in clients:
                response = await c.post("/api/v1/auth/forgot-password", json={"email": email})
                assert response.status_code == 429
                assert response.json() == {"success": False, "error": MAIL_REFUSED}
