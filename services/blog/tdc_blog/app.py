"""Composition of the blog service: routers, migrations, bus, cache, scheduler, demo data."""

from __future__ import annotations

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

from . import demo
from .feeds import FeedBuilder
from .handlers import broadcast, handlers
from .render import Renderer
from .routes import admin_posts, feeds, posts, summary, taxonomy
from .scheduler import scheduler
from .settings import BlogSettings

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def build(
    settings: BlogSettings | None = None,
    verifier: Callable[[ServiceSettings], TokenVerifier] | None = None,
) -> FastAPI:
    settings = settings or BlogSettings()
    cache = (
        ResponseCache(
            ttl=settings.blog_cache_ttl_seconds,
            max_entries=settings.blog_cache_max_entries,
            max_age=settings.blog_cache_max_age,
            max_bytes=settings.blog_cache_max_bytes,
        )
        if settings.blog_cache_enabled
        else None
    )
    spec = ServiceSpec(
        name="blog",
        settings=settings,
        routers=[
            posts.router,
            feeds.router,
            taxonomy.router,
            taxonomy.admin_router,
            admin_posts.router,
            summary.router,
        ],
        migrations=MIGRATIONS,
        extra_migrations=[BUS_MIGRATIONS],
        components=[
            event_bus(handlers=handlers, broadcast=broadcast(cache)),
            scheduler(settings.blog_scheduler_poll_seconds, settings.blog_scheduler_batch),
        ],
        demo_data=demo.load,
        verifier=verifier,
        title="Dreamer's Cave blog",
        description="Posts and categories in four languages, gated for members and patrons, with RSS and Atom feeds.",
    )
    app = create_service(spec)
    app.state.cache = cache
    app.state.renderer = Renderer(settings.frontend_url)
    app.state.feeds = FeedBuilder(settings.frontend_url, settings.blog_site_title)
    if cache is not None:
        # Innermost, so request ids, access logs and metrics still see cached answers. Answers
        # depend on the caller's standing: a request with a token is never served nor stored.
        app.user_middleware.append(
            Middleware(CacheMiddleware, cache=cache, excluded=("/api/v1/admin/",), bypass_authorized=True)
        )
    return app
