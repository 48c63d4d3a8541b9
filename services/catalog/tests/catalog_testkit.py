"""Helpers for the catalog tests: building the app, tokens, and making locations, artists, events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from tdc_catalog.app import build
from tdc_catalog.settings import CatalogSettings
from tdc_shared.auth import KeySet, TokenVerifier
from tdc_shared.testing.keys import AUDIENCE, ISSUER, SigningKey, jwks


def make_settings(mysql_url: str, amqp_url: str, prefix: str, namespace: str, media_dir, **extra: Any):
    return CatalogSettings(
        env="test",
        mysql_url=mysql_url,
        amqp_url=amqp_url,
        db_prefix=prefix,
        bus_namespace=namespace,
        catalog_media_dir=media_dir,
        log_level="WARNING",
        **extra,
    )


def make_app(settings: CatalogSettings, signing_key: SigningKey):
    return build(
        settings,
        verifier=lambda s: TokenVerifier(KeySet.static(jwks(signing_key)), issuer=ISSUER, audience=AUDIENCE),
    )


class Catalog:
    """A running app with a client and ready-made auth headers."""

    def __init__(self, app, client: httpx2.AsyncClient, signing_key: SigningKey) -> None:
        self.app = app
        self.client = client
        self.staff = {"Authorization": f"Bearer {signing_key.token(sub=7, role='staff')}"}
        self.admin = {"Authorization": f"Bearer {signing_key.token(sub=1, role='admin')}"}
        self.user = {"Authorization": f"Bearer {signing_key.token(sub=9, role='user')}"}

    @property
    def db(self):
        return self.app.state.db

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        import json

        rows = await self.db.fetch_all("SELECT payload FROM outbox WHERE event_type = %s ORDER BY id", (event_type,))
        return [json.loads(r["payload"])["data"] for r in rows]


@contextlib.asynccontextmanager
async def running(app) -> AsyncIterator[httpx2.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
            yield client


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"


async def make_location(catalog: Catalog, **fields: Any) -> dict[str, Any]:
    body = {"slug": unique("loc"), "name": "Test Venue", "mood_category": "hybrid", **fields}
    response = await catalog.client.post("/api/v1/admin/locations", json=body, headers=catalog.staff)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def make_artist(catalog: Catalog, **fields: Any) -> dict[str, Any]:
    body = {"slug": unique("artist"), "name": "Test Artist", **fields}
    response = await catalog.client.post("/api/v1/admin/artists", json=body, headers=catalog.staff)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def make_event(catalog: Catalog, location_id: int, *, publish: bool = True, **fields: Any) -> dict[str, Any]:
    body = {
        "slug": unique("night"),
        "title": "Test Night",
        "start": "2031-06-01T20:00:00-07:00",
        "end": "2031-06-01T23:00:00-07:00",
        "location_id": location_id,
        **fields,
    }
    response = await catalog.client.post("/api/v1/admin/events", json=body, headers=catalog.staff)
    assert response.status_code == 201, response.text
    event = response.json()["data"]
    if publish:
        response = await catalog.client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=catalog.staff)
        assert response.status_code == 200, response.text
        event = response.json()["data"]
    return event
