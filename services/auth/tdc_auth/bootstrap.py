"""Accounts created at start-up: the bootstrap admin (always, when configured) and demo users.

Both are idempotent across restarts and across replicas starting together: the unique
email key decides who creates the row, and the loser finds it there.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator

from fastapi import FastAPI

from tdc_shared.db import Database
from tdc_shared.events import publish

from .context import AuthContext
from .models import USERNAME, canonical_email, normalize_email
from .passwords import policy_problems
from .queries import users

log = logging.getLogger(__name__)

# Documented in services/auth/README.md; created only with TDC_DEMO_DATA=true.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("staff@demo.dreamerscave.example", "demo_staff", "staff", "cave-staff-demo-2026"),
    ("user@demo.dreamerscave.example", "demo_user", "user", "cave-user-demo-2026"),
)


def username_from(email: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "", email.split("@", 1)[0])[:24]
    if not USERNAME.fullmatch(base):
        base = f"user{base}"[:24]
    return base if USERNAME.fullmatch(base) else "user"


async def ensure_user(
    db: Database,
    ctx: AuthContext,
    *,
    email: str,
    password: str,
    role: str,
    username: str | None = None,
) -> bool:
    """Create the account unless the email exists; returns whether this call created it."""
    email = normalize_email(email)
    async with db.transaction() as tx:
        if await users.by_email(tx, email) is not None:
            return False
    password_hash = await ctx.passwords.hash(password)
    name = username or username_from(email)
    for attempt in range(5):
        candidate = name if attempt == 0 else f"{name[:24]}{secrets.randbelow(10**6):06d}"
        try:
            async with db.transaction() as tx:
                user_id = await users.insert(
                    tx, email=email, username=candidate, password_hash=password_hash, role=role, email_verified=True
                )
                await publish(
                    tx,
                    "auth.user.registered",
                    {"user_id": user_id, "email": email, "username": candidate, "language": "en"},
                    source="auth",
                )
            return True
        except users.DuplicateUser as exc:
            if exc.field == "email":
                return False  # another replica created it a moment ago
    raise RuntimeError(f"could not find a free username for {email}")


async def canonical_emails(db: Database) -> int:
    """Fill `email_canonical` for accounts from before it existed (migration 0006 did the ASCII ones).

    Two old accounts whose addresses canonicalise alike cannot both keep it: the later one is left
    without (it cannot sign in by email until an admin sorts it out) and logged.
    """
    filled = 0
    async with db.transaction() as tx:
        for row in await users.without_canonical_email(tx):
            try:
                canonical = canonical_email(row["email"])
                await users.set_canonical_email(tx, int(row["id"]), canonical)
                filled += 1
            except ValueError:
                log.error("account has an invalid email; left without a canonical one", extra={"user_id": row["id"]})
            except users.mysql_errors.IntegrityError:
                log.error("two accounts share one canonical email; left the later one", extra={"user_id": row["id"]})
    return filled


def bootstrap_admin(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        ctx: AuthContext = app.state.auth
        if await canonical_emails(app.state.db):
            log.info("canonical emails filled for migrated accounts")
        email, password = ctx.settings.bootstrap_admin_email, ctx.settings.bootstrap_admin_password
        if email and password:
            problems = policy_problems(password)
            if problems:
                raise RuntimeError(f"TDC_BOOTSTRAP_ADMIN_PASSWORD {problems[0]}")
            if await ensure_user(app.state.db, ctx, email=email, password=password, role="admin"):
                log.info("bootstrap admin created", extra={"email": email})
        elif email or password:
            raise RuntimeError("set both TDC_BOOTSTRAP_ADMIN_EMAIL and TDC_BOOTSTRAP_ADMIN_PASSWORD, or neither")
        yield

    return component(app)


async def demo_data(app: FastAPI) -> None:
    for email, username, role, password in DEMO_USERS:
        await ensure_user(app.state.db, app.state.auth, email=email, password=password, role=role, username=username)
