"""Linking a Second Life avatar: a one-time code the avatar proves in-world (integration's side).

`POST /api/v1/user/sl-link` hands the signed-in user a code (10 minutes, single use: integration
accepts it once) and publishes `auth.sl_link.code_issued` with its SHA-256 only, so neither the
outbox nor the bus holds a usable code. The user says it to an in-world object; integration
checks it and publishes `integration.sl.avatar_linked`, which auth stores (handlers.py); the
profile then shows `sl_avatar`. `DELETE` unlinks.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import CurrentUser
from tdc_shared.deps import Db
from tdc_shared.envelope import NotFound, no_content, ok
from tdc_shared.events import publish

from ..clock import iso, utcnow
from ..context import Auth, active_user
from ..queries import users
from ..throttle import account_key

router = APIRouter(prefix="/api/v1/user", tags=["user"])

CODE_TTL = timedelta(minutes=10)
# No 0/O or 1/I/L: the code is read off a screen and typed into Second Life chat.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 31^10: about 49 bits, for a code that lives 10 minutes and works once


def code_hash(code: str) -> str:
    """What integration compares: SHA-256 hex of the code as typed, upper-cased, dashes removed."""
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


@router.post("/sl-link", status_code=201, summary="A one-time code to link my Second Life avatar (10 minutes)")
async def issue_code(claims: CurrentUser, ctx: Auth, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        user = await active_user(tx, claims)
    # A code per request is cheap to ask for: bound it like other mail-like requests.
    await ctx.throttle.email_request("sl-link", account_key(user, user["email"]))
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    code = f"{raw[:5]}-{raw[5:]}"
    expires_at = utcnow() + CODE_TTL
    async with db.transaction() as tx:
        await publish(
            tx,
            "auth.sl_link.code_issued",
            {"user_id": claims.user_id, "code_hash": code_hash(code), "expires_at": iso(expires_at)},
            source="auth",
        )
    return ok(
        {"code": code, "expires_at": iso(expires_at), "expires_in": int(CODE_TTL.total_seconds())},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@router.delete("/sl-link", status_code=204, summary="Unlink my Second Life avatar")
async def unlink(claims: CurrentUser, db: Db) -> Response:
    async with db.transaction() as tx:
        await active_user(tx, claims, lock=True)
        if not await users.unlink_sl_avatar(tx, claims.user_id):
            raise NotFound("No Second Life avatar is linked to your account")
    return no_content()
