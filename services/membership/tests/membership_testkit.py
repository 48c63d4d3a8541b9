"""Helpers for the membership tests: the app on real MySQL and RabbitMQ, a fake Patreon over
real HTTP, tokens with and without Patreon claims."""

from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from fake_patreon import WEBHOOK_SECRET, FakeMember, FakePatreon, sign

from tdc_membership.app import build
from tdc_membership.settings import MembershipSettings
from tdc_shared.auth import KeySet, TokenVerifier
from tdc_shared.testing.keys import AUDIENCE, ISSUER, SigningKey, jwks


def make_settings(
    mysql_url: str,
    amqp_url: str,
    prefix: str,
    namespace: str,
    files_dir: Path,
    fake: FakePatreon | None,
    **extra: Any,
) -> MembershipSettings:
    patreon: dict[str, Any] = {}
    if fake is not None:
        patreon = {
            "membership_patreon_api_url": fake.url,
            "membership_patreon_campaign_id": fake.campaign_id,
            "membership_patreon_access_token": fake.creator_token,
            "membership_patreon_client_id": fake.client_id,
            "membership_patreon_client_secret": fake.client_secret,
            "membership_patreon_webhook_secret": WEBHOOK_SECRET,
            "membership_patreon_redirect_uri": "http://membership.test/api/v1/support/patreon/callback",
        }
    values: dict[str, Any] = {
        "env": "test",
        "mysql_url": mysql_url,
        "amqp_url": amqp_url,
        "db_prefix": prefix,
        "bus_namespace": namespace,
        "log_level": "WARNING",
        "membership_files_dir": files_dir,
        "membership_reconcile_interval_seconds": 0,
        "membership_reconcile_check_seconds": 0.2,
        "membership_patreon_max_attempts": 3,
        "frontend_url": "https://app.test/support",
        **patreon,
        **extra,
    }
    return MembershipSettings(**values)


def make_app(settings: MembershipSettings, signing_key: SigningKey):
    return build(
        settings,
        verifier=lambda s: TokenVerifier(KeySet.static(jwks(signing_key)), issuer=ISSUER, audience=AUDIENCE),
    )


@contextlib.asynccontextmanager
async def running(app) -> AsyncIterator[httpx2.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://membership.test") as client:
            yield client


def new_user_id() -> int:
    return random.randint(10_000, 2_000_000_000)


def new_ids() -> tuple[str, str]:
    """(member id, Patreon user id), unique to a test."""
    return str(uuid.uuid4()), str(random.randint(10_000_000, 999_999_999))


class Membership:
    """A running app with its client, the fake Patreon it talks to, and tokens."""

    def __init__(self, app, client: httpx2.AsyncClient, signing_key: SigningKey, fake: FakePatreon | None) -> None:
        self.app = app
        self.client = client
        self.key = signing_key
        self.fake = fake
        self.admin = self.headers(1, role="admin")

    def headers(self, user_id: int, role: str = "user", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key.token(sub=user_id, role=role, **claims)}"}

    def patron(self, user_id: int, tier: str, cents: int) -> dict[str, str]:
        return self.headers(user_id, patreon_tier=tier, patreon_cents=cents)

    @property
    def db(self):
        return self.app.state.db

    async def outbox(self, event_type: str, **match: Any) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all("SELECT payload FROM outbox WHERE event_type = %s ORDER BY id", (event_type,))
        events = [json.loads(r["payload"])["data"] for r in rows]
        return [e for e in events if all(e.get(k) == v for k, v in match.items())]

    async def supporter(self, patreon_user_id: str) -> dict[str, Any] | None:
        return await self.db.fetch_one("SELECT * FROM supporters WHERE patreon_user_id = %s", (patreon_user_id,))

    async def deliver(self, member_id: str, trigger: str, body: bytes | None = None) -> httpx2.Response:
        assert self.fake is not None
        body = body if body is not None else self.fake.webhook_body(member_id)
        return await self.client.post(
            "/api/v1/webhooks/patreon",
            content=body,
            headers={"X-Patreon-Event": trigger, "X-Patreon-Signature": sign(body), "Content-Type": "application/json"},
        )

    def member(self, tier_ids: list[str], status: str | None = "active_patron", cents: int = 0) -> FakeMember:
        assert self.fake is not None
        member_id, user_id = new_ids()
        return self.fake.add_member(
            FakeMember(
                member_id, user_id, status, tier_ids, cents, full_name=f"Patron {user_id}", email=f"{user_id}@x.test"
            )
        )

    async def link(self, user_id: int, patreon_user_id: str) -> httpx2.Response:
        """Run the whole linking dance for `user_id` signing in at Patreon as `patreon_user_id`."""
        assert self.fake is not None
        started = await self.client.post("/api/v1/user/membership/patreon/link", headers=self.headers(user_id))
        assert started.status_code == 200, started.text
        self.fake.login_as = patreon_user_id
        async with httpx2.AsyncClient() as browser:
            at_patreon = await browser.get(started.json()["data"]["authorization_url"])
        assert at_patreon.status_code == 302, at_patreon.text
        back = httpx2.URL(at_patreon.headers["location"])
        return await self.client.get(back.path, params=dict(back.params))
