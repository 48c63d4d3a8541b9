"""Composition of the membership service: routers, migrations, bus, Patreon, reconciliation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import TokenVerifier
from tdc_shared.events import MIGRATIONS as BUS_MIGRATIONS
from tdc_shared.events.bus import event_bus
from tdc_shared.settings import ServiceSettings

from . import demo
from .handlers import handlers
from .patreon import PatreonClient
from .reconcile import Reconciler, scheduler
from .routes import admin, admin_exclusive, exclusive, support, user_membership, webhooks
from .settings import MembershipSettings
from .webhooks import WebhookIntake

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def patreon(client_factory: Callable[[MembershipSettings], PatreonClient] = PatreonClient):
    """The Patreon client, webhook intake and reconciler as one app component. Without the
    creator's settings there is no reconciler (admin routes that need one answer 503)."""

    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        settings: MembershipSettings = app.state.settings
        client = client_factory(settings)
        app.state.patreon = client
        app.state.webhooks = WebhookIntake(app.state.db, settings, client)
        app.state.reconciler = Reconciler(app.state.db, settings, client) if settings.can_read_members else None
        try:
            yield
        finally:
            await client.aclose()

    return component


def build(
    settings: MembershipSettings | None = None,
    verifier: Callable[[ServiceSettings], TokenVerifier] | None = None,
    client_factory: Callable[[MembershipSettings], PatreonClient] = PatreonClient,
) -> FastAPI:
    settings = settings or MembershipSettings()
    spec = ServiceSpec(
        name="membership",
        settings=settings,
        routers=[
            support.router,
            user_membership.router,
            exclusive.router,
            webhooks.router,
            admin_exclusive.router,
            admin.router,
        ],
        migrations=MIGRATIONS,
        extra_migrations=[BUS_MIGRATIONS],
        components=[event_bus(handlers=handlers), patreon(client_factory), scheduler()],
        demo_data=demo.load,
        verifier=verifier,
        title="Dreamer's Cave membership",
        description="Patreon tiers and supporters, account linking, the supporters' wall and exclusive content.",
    )
    return create_service(spec)
