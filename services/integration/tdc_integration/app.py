"""Composition of the integration service: routers, migrations, the bus, the push worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import TokenVerifier
from tdc_shared.events import MIGRATIONS as BUS_MIGRATIONS
from tdc_shared.events.bus import event_bus
from tdc_shared.settings import ServiceSettings

from .handlers import handlers
from .routes import admin, admin_sl, sl
from .secrets import SecretBox
from .settings import IntegrationSettings
from .sl.cache import BoardCache
from .sl.lsl import SIGNING
from .sl.signing import RateLimited, Verifier, rate_limited_answer
from .worker import push_worker

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"

DESCRIPTION = (
    "The club's events pushed to Google Calendar (internal and public calendars) and to its Facebook "
    "page, every call logged for admins; and the Second Life API for in-world objects.\n\n"
    "## Second Life requests\n\n" + SIGNING
)


def build(
    settings: IntegrationSettings | None = None,
    verifier: Callable[[ServiceSettings], TokenVerifier] | None = None,
) -> FastAPI:
    settings = settings or IntegrationSettings()
    spec = ServiceSpec(
        name="integration",
        settings=settings,
        routers=[admin.router, admin_sl.router, sl.router],
        migrations=MIGRATIONS,
        extra_migrations=[BUS_MIGRATIONS],
        components=[event_bus(handlers=handlers), push_worker()],
        verifier=verifier,
        title="Dreamer's Cave integrations",
        description=DESCRIPTION,
    )
    app = create_service(spec)
    app.state.secret_box = SecretBox(settings.integration_secret_key)
    app.state.sl_verifier = Verifier(settings, app.state.secret_box)
    app.state.board_cache = BoardCache(settings.integration_sl_board_cache_seconds)
    app.add_exception_handler(RateLimited, rate_limited_answer)
    return app
