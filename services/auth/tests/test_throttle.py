"""The throttle's window slides: nobody is locked out for longer than one window."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from auth_testkit import Accounts, unique_email
from conftest import random_client_ip
from fastapi import FastAPI

from tdc_auth.settings import AuthSettings
from tdc_auth.throttle import Throttle
from tdc_shared.envelope import TooManyRequests


async def test_lockout_ends_when_the_window_passes(auth_app: FastAPI):
    throttle = Throttle(AuthSettings(env="test", auth_login_account_limit="2/second"), auth_app.state.db)
    victim = unique_email()
    await throttle.begin_login(victim, "198.51.100.1")  # two attempts that never succeed: two failures
    await throttle.begin_login(victim, "198.51.100.1")
    with pytest.raises(TooManyRequests) as refused:
        await throttle.begin_login(victim, "198.51.100.2")
    assert refused.value.headers["Retry-After"] == "1"
    await throttle.begin_login(unique_email(), "198.51.100.2")  # other accounts are not affected
    for _ in range(40):  # bounded: the window is one second
        try:
            await throttle.begin_login(victim, "198.51.100.2")
            break
        except TooManyRequests:
            await asyncio.sleep(0.05)
    else:
        pytest.fail("the account stayed locked after its window")


def test_client_address_trusts_only_configured_proxies():
    from tdc_shared.observability import TrustedProxies

    trusted = TrustedProxies(["127.0.0.2", "10.0.0.0/8"])
    assert trusted.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert trusted.client("127.0.0.1", "1.2.3.4") == "127.0.0.1"  # loopback is not the gateway unless named
    assert trusted.client("127.0.0.2", "6.6.6.6, 203.0.113.7") == "203.0.113.7"
    assert trusted.client("127.0.0.2", "203.0.113.7, 10.1.2.3") == "203.0.113.7"
    assert trusted.client("127.0.0.2", "not-an-ip") == "127.0.0.2"
    assert trusted.client("127.0.0.2", "x" * 60) == "127.0.0.2"
    assert trusted.client("127.0.0.2", "2001:db8::1") == "2001:db8::1"
    assert trusted.client("127.0.0.2", None) == "127.0.0.2"
    assert TrustedProxies([]).client("127.0.0.1", "1.2.3.4") == "127.0.0.1"


async def test_parallel_wrong_passwords_are_held_to_the_account_limit(client: httpx2.AsyncClient, accounts: Accounts):
    # The service allows 5 failures per account; 20 guesses sent at once, from 20 addresses,
    # must not all be checked against the password before any of them has counted.
    user = await accounts.register()

    async def guess(n: int) -> int:
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": user["email"], "password": f"wrong guess {n}"},
            headers={"X-Forwarded-For": random_client_ip()},
        )
        return response.status_code

    codes = await asyncio.gather(*(guess(n) for n in range(20)))
    assert set(codes) <= {401, 429}
    assert codes.count(401) <= 5
