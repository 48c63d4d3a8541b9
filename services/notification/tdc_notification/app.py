"""Composition of the notification service: routers, migrations, the bus consumer, the sender."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import TokenVerifier
from tdc_shared.events import MIGRATIONS as BUS_MIGRATIONS
from tdc_shared.events.bus import event_bus
from tdc_shared.settings import ServiceSettings

from .clock import Clock
from .handlers import handlers
from .notifier import Notifier, configure
from .routes import admin, my_mails, preferences, unsubscribe
from .sender import sender_component
from .settings import NotificationSettings
from .templates import Templates

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def build(
    settings: NotificationSettings | None = None,
    verifier: Callable[[ServiceSettings], TokenVerifier] | None = None,
    clock: Clock | None = None,
    templates: Templates | None = None,
) -> FastAPI:
    settings = settings or NotificationSettings()
    notifier = Notifier(settings, clock or Clock(), templates or Templates())
    configure(notifier)
    spec = ServiceSpec(
        name="notification",
        settings=settings,
        routers=[preferences.router, my_mails.router, admin.router, unsubscribe.router],
        migrations=MIGRATIONS,
        extra_migrations=[BUS_MIGRATIONS],
        components=[event_bus(handlers=handlers), sender_component()],
        verifier=verifier,
        title="Dreamer's Cave notifications",
        description="Every mail the club sends, in the reader's language, over SMTP, once; preferences and the queue.",
    )
    app = create_service(spec)
    app.state.notifier = notifier
    return app
