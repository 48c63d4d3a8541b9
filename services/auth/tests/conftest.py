"""The auth service in-process (httpx2 over ASGI) on real MySQL, with a local OAuth provider."""

from __future__ import annotations

import ipaddress
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parent))

from auth_oauth_provider import FakeProvider
from auth_testkit import ADMIN_EMAIL, ADMIN_PASSWORD, Accounts

from tdc_auth.main import create_app
from tdc_auth.settings import AuthSettings

BASE_URL = "https://auth.test"


@pytest.fixture(scope="session")
def oauth_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


def make_settings(mysql_url: str, db_prefix: str, keys_dir: Path, provider: FakeProvider, **overrides: Any):
    values: dict[str, Any] = {
        "env": "test",
        "mysql_url": mysql_url,
        "db_prefix": db_prefix,
        "log_level": "WARNING",
        "auth_signing_keys_dir": str(keys_dir),
        # Cheap hashing keeps the suite fast; production keeps argon2-cffi's defaults.
        "auth_argon2_time_cost": 1,
        "auth_argon2_memory_kib": 1024,
        "auth_argon2_parallelism": 1,
        "auth_login_client_limit": "12/15 minutes",
        "auth_frontend_url": "https://app.test/auth/done",
        "auth_public_url": BASE_URL,
        # The in-process client's peer stands for the gateway, so each test's X-Forwarded-For counts.
        "trusted_proxies": ["127.0.0.1"],
        "bootstrap_admin_email": ADMIN_EMAIL,
        "bootstrap_admin_password": ADMIN_PASSWORD,
    }
    for name, (client_id, secret) in provider.clients.items():
        values[f"auth_{name}_client_id"] = client_id
        values[f"auth_{name}_client_secret"] = secret
    values["auth_google_discovery_url"] = provider.url("google", "/.well-known/openid-configuration")
    for name in ("discord", "facebook"):
        values[f"auth_{name}_authorize_url"] = provider.url(name, "/authorize")
        values[f"auth_{name}_token_url"] = provider.url(name, "/token")
    values["auth_discord_userinfo_url"] = provider.url("discord", "/userinfo")
    values["auth_facebook_userinfo_url"] = provider.url("facebook", "/me?fields=id,name,email")
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth-keys")


@pytest.fixture(scope="session")
def auth_settings(mysql_url: str, db_prefix: str, keys_dir: Path, oauth_provider: FakeProvider) -> AuthSettings:
    return make_settings(mysql_url, db_prefix, keys_dir, oauth_provider)


@pytest.fixture(scope="session")
async def auth_app(auth_settings: AuthSettings) -> AsyncIterator[FastAPI]:
    app = create_app(auth_settings, bus=False)
    async with app.router.lifespan_context(app):
        yield app


def random_client_ip() -> str:
    """A made-up client address (IPv6 documentation range), so throttling never couples two tests."""
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("2001:db8::")) + secrets.randbits(64)))


@pytest.fixture
async def client(auth_app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=auth_app)
    async with httpx2.AsyncClient(
        transport=transport, base_url=BASE_URL, headers={"X-Forwarded-For": random_client_ip()}
    ) as c:
        yield c


@pytest.fixture
def accounts(client: httpx2.AsyncClient, auth_app: FastAPI) -> Accounts:
    return Accounts(client, auth_app)
