"""The merged OpenAPI document and the interactive docs page, checked in a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import create_model

from .conftest import gateway_settings, running_gateway, serve_asgi

CHROMIUM = "/usr/bin/chromium"
# Two services, one schema name, different shapes: the merge must keep both.
CatalogItem = create_model("Item", slug=(str, ...), title=(str, ...))
AuthItem = create_model("Item", id=(int, ...))


def catalog_like() -> FastAPI:
    app = FastAPI(title="catalog")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/events", tags=["events"], summary="List events")
    async def list_events() -> list[CatalogItem]:
        return []

    @app.post("/api/v1/admin/events", tags=["admin"], summary="Create an event")
    async def create_event(item: CatalogItem) -> CatalogItem:
        return item

    return app


def auth_like() -> FastAPI:
    app = FastAPI(title="auth")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/auth/login", summary="Sign in")
    async def login() -> AuthItem:
        return AuthItem(id=1)

    @app.get("/api/v1/user/profile", summary="Read my profile")
    async def profile() -> AuthItem:
        return AuthItem(id=1)

    # Not routed to auth by the gateway: must not appear, nor clash with catalog's.
    @app.get("/api/v1/events", summary="Auth's stray events")
    async def stray() -> dict[str, str]:
        return {}

    return app


@pytest.fixture(scope="module")
async def docs_gateway(jwks_server: Any) -> AsyncIterator[Any]:
    async with serve_asgi(catalog_like()) as catalog, serve_asgi(auth_like()) as auth:
        settings = gateway_settings(jwks_server, {"catalog": catalog, "auth": auth})
        async with running_gateway(settings) as pair:
            yield pair


async def test_merged_document(docs_gateway: Any) -> None:
    _, client = docs_gateway
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    assert paths["/api/v1/events"]["get"]["summary"] == "List events"  # catalog's, not auth's stray one
    assert "post" in paths["/api/v1/admin/events"]
    assert "post" in paths["/api/v1/auth/login"]
    assert "/healthz" in paths and paths["/healthz"]["get"]["tags"] == ["gateway"]  # the gateway's own
    assert "/_auth/{policy}" in paths
    schemas = document["components"]["schemas"]
    assert set(schemas["Item"]["properties"]) == {"slug", "title"}
    assert set(schemas["auth_Item"]["properties"]) == {"id"}
    login_ref = paths["/api/v1/auth/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert login_ref == {"$ref": "#/components/schemas/auth_Item"}
    assert paths["/api/v1/user/profile"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/api/v1/events"]["get"]
    ids = [op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids))
    assert "blog" in document["info"]["x-unavailable-services"]


def ensure_chromium() -> str:
    """Debian's Chromium, installed on first use so that a clean machine passes too."""
    if not os.path.exists(CHROMIUM):
        apt = shutil.which("apt-get")
        if apt is None:
            pytest.fail("the docs browser test needs Debian's chromium (apt-get install -y chromium)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run([apt, "install", "-y", "-qq", "chromium"], env=env, check=False).returncode != 0:
            subprocess.run([apt, "update", "-qq"], env=env, check=True)
            subprocess.run([apt, "install", "-y", "-qq", "chromium"], env=env, check=True)
    return CHROMIUM


async def test_docs_page_shows_operations_of_every_running_service(docs_gateway: Any) -> None:
    from playwright.async_api import async_playwright

    executable = ensure_chromium()
    _, client = docs_gateway
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = await browser.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            await page.goto(f"{str(client.base_url).rstrip('/')}/docs")
            await page.wait_for_selector(".opblock", timeout=20_000)
            text = await page.inner_text("#swagger-ui")
            assert "/api/v1/events" in text  # catalog
            assert "/api/v1/admin/events" in text
            assert "/api/v1/auth/login" in text  # auth
            assert "/api/v1/user/profile" in text
            assert not failed, failed  # every asset served locally
        finally:
            await browser.close()
