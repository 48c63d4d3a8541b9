"""The auth service: `uvicorn tdc_auth.main:app`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.events import MIGRATIONS as EVENT_MIGRATIONS
from tdc_shared.events.bus import event_bus

from .bootstrap import bootstrap_admin, demo_data
from .context import AuthContext
from .handlers import handlers
from .housekeeping import housekeeping
from .keys import KeyRing
from .oauth import OAUTH_COOKIE, OAUTH_COOKIE_PATH, OAuthProviders
from .passwords import Passwords
from .routes import accounts, admin, oauth, profile, sl_link, tokens
from .settings import AuthSettings
from .throttle import Throttle


def create_app(settings: AuthSettings | None = None, *, bus: bool = True) -> FastAPI:
    """`bus=False` leaves events in the outbox table (for tests that read them there)."""
    settings = settings or AuthSettings()
    keys = KeyRing.from_settings(settings)

    @contextlib.asynccontextmanager
    async def auth_context(app: FastAPI) -> AsyncIterator[None]:
        # Built once the lifespan has opened the database: the throttle keeps its counts there.
        app.state.auth = AuthContext(
            settings=settings,
            keys=keys,
            passwords=Passwords(
                time_cost=settings.auth_argon2_time_cost,
                memory_kib=settings.auth_argon2_memory_kib,
                parallelism=settings.auth_argon2_parallelism,
                concurrency=settings.auth_hash_concurrency,
            ),
            throttle=Throttle(settings, app.state.db),
            verifier=app.state.verifier,
        )
        yield

    app = create_service(
        ServiceSpec(
            name="auth",
            settings=settings,
            routers=[tokens.router, accounts.router, oauth.router, profile.router, sl_link.router, admin.router],
            migrations=Path(__file__).parent.parent / "migrations",
            extra_migrations=[EVENT_MIGRATIONS],
            components=[auth_context, *([event_bus(handlers=handlers)] if bus else []), bootstrap_admin, housekeeping],
            demo_data=demo_data,
            verifier=keys.verifier,
            description="Accounts, tokens (JWT + JWKS), OAuth sign-in, profiles and admin user management.",
        )
    )
    app.state.oauth = OAuthProviders(settings)
    # Carries OAuth state, nonce and PKCE verifier from the login redirect to the callback, signed,
    # so any replica can finish the flow; `lax` because the callback is a top-level cross-site redirect.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.auth_session_secret,
        session_cookie=OAUTH_COOKIE,
        path=OAUTH_COOKIE_PATH,
        max_age=600,
        same_site="lax",
        https_only=True,
    )
    return app


app = create_app()
