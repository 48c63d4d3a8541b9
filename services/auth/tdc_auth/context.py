"""What the routes share: settings, keys, hasher, throttle, the database; and small dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.auth import Claims, TokenVerifier
from tdc_shared.db import Row, Session
from tdc_shared.envelope import Forbidden, Unauthorized

from .keys import KeyRing
from .passwords import Passwords
from .queries import users
from .settings import AuthSettings
from .throttle import Throttle, client_address


@dataclass
class AuthContext:
    settings: AuthSettings
    keys: KeyRing
    passwords: Passwords
    throttle: Throttle
    # The app's own verifier, told of our revocations at once (the bus tells every other process).
    verifier: TokenVerifier | None = None


@dataclass
class Caller:
    """Who is asking, for session records and throttling."""

    ip: str
    user_agent: str | None


# `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def _context(request: Request) -> AuthContext:
    return request.app.state.auth


async def _caller(request: Request, ctx: Annotated[AuthContext, Depends(_context)]) -> Caller:
    return Caller(client_address(request), request.headers.get("user-agent"))


Auth = Annotated[AuthContext, Depends(_context)]
Client = Annotated[Caller, Depends(_caller)]


async def active_user(tx: Session, claims: Claims, *, lock: bool = False) -> Row:
    """The account behind a valid token; a deleted or disabled account is no longer signed in."""
    row = await users.by_id(tx, claims.user_id, lock=lock)
    if row is None or not row["is_active"]:
        raise Unauthorized("Account is not active")
    return row


async def active_admin(tx: Session, claims: Claims) -> Row:
    """Admin routes also check the stored role: a demoted admin's token still says admin until it expires."""
    row = await active_user(tx, claims)
    if row["role"] != "admin":
        raise Forbidden("Admin access required")
    return row
