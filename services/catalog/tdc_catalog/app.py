"""Composition of the catalog service: routers, migrations, bus, cache, demo data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import TokenVerifier
from tdc_shared.cache import CacheMiddleware, ResponseCache
from tdc_shared.events import MIGRATIONS as BUS_MIGRATIONS
from tdc_shared.events.bus import event_bus
from tdc_shared.settings import ServiceSettings

from . import demo, handlers
from .routes import admin_events, artists, events, locations, media, staff, strings
from .settings import CatalogSettings

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def build(
    settings: CatalogSettings | None = None,
    verifier: Callable[[ServiceSettings], TokenVerifier] | None = None,
) -> FastAPI:
    settings = settings or CatalogSettings()
    cache = (
        ResponseCache(
            ttl=settings.catalog_cache_ttl_seconds,
            max_entries=settings.catalog_cache_max_entries,
            max_age=settings.catalog_cache_max_age,
            max_bytes=settings.catalog_cache_max_bytes,
        )
        if settings.catalog_cache_enabled
        else None
    )
    spec = ServiceSpec(
        name="catalog",
        settings=settings,
        routers=[
            locations.router,
            locations.admin_router,
            artists.router,
            artists.admin_router,
            events.router,
            admin_events.router,
            staff.router,
            staff.admin_router,
            strings.router,
            strings.admin_router,
            media.router,
            media.admin_router,
        ],
        migrations=MIGRATIONS,
        extra_migrations=[BUS_MIGRATIONS],
        components=[event_bus(handlers=handlers.handlers, broadcast=handlers.broadcast(cache, lambda: app.state.db))],
        demo_data=demo.load,
        verifier=verifier,
        title="Dreamer's Cave catalog",
        description="Locations, artists, events with lineups, staff, media and UI strings, in four languages.",
    )
    app = create_service(spec)
    app.state.cache = cache
    app.state.decode_slots = asyncio.Semaphore(settings.catalog_media_concurrent_decodes)
    if cache is not None:
        # Innermost, so request ids, access logs and metrics still see cached answers.
        app.user_middleware.append(
            Middleware(CacheMiddleware, cache=cache, excluded=("/api/v1/admin/", "/api/v1/media/"))
        )
    return app
