"""Ending sessions and roles for access tokens too: `auth.tokens.revoked`, through the outbox.

Every process holds the revocations in its token verifier (tdc_shared.auth.Revocations, fed by
the broadcast in tdc_shared.events.revocations), so an access token dies with its session or
its role within moments, everywhere, without a call to auth per request. This process applies
each revocation to its own verifier at once as well (it may run without a bus in tests). While
the broker is down the events wait in the outbox, and the access-token lifetime bounds the window.

- a session ends (logout, password change of the other sessions, reset, reuse, disable): one event
  per session, `session_id` set, `not_before` null: every token of that session is refused;
- a role changes or an account is disabled: `session_id` null, `not_before` = the next whole
  second; tokens issued before it are refused, and the user's row keeps it (`tokens_not_before`)
  so that tokens issued from now on carry `iat >= not_before` (see keys.access_token_claims).
"""

from __future__ import annotations

import math
import time

from tdc_shared.auth import TokenVerifier
from tdc_shared.db import Session
from tdc_shared.events import publish
from tdc_shared.events.revocations import TOKENS_REVOKED, apply_revocation

from .queries import sessions as session_rows
from .queries import users

# How far ahead of the clock a not-before (and so a new token's iat) may run when revocations of
# one user follow each other within a second; well inside the verifiers' 5 s leeway.
MAX_AHEAD_SECONDS = 2


async def end_sessions(
    tx: Session,
    verifier: TokenVerifier | None,
    reason: str,
    *,
    user_id: int | None = None,
    session_id: str | None = None,
    keep: str | None = None,
) -> list[str]:
    """Revoke the open sessions chosen (one by id, or all of a user's but `keep`); their tokens die too."""
    rows = await session_rows.open_sessions(tx, user_id=user_id, session_id=session_id, keep=keep)
    for row in rows:
        await session_rows.revoke(tx, row["id"], reason)
        await _announce(tx, verifier, {"user_id": int(row["user_id"]), "session_id": row["id"], "not_before": None})
    return [row["id"] for row in rows]


async def end_tokens_of_user(tx: Session, verifier: TokenVerifier | None, user_id: int, *, store: bool = True) -> int:
    """Refuse every access token of this user issued until now (role change, account disabled or
    deleted: `store=False`, there is no row left to remember it)."""
    not_before = math.floor(time.time()) + 1
    if store:
        row = await users.by_id(tx, user_id, lock=True)
        previous = row["tokens_not_before"] if row is not None else None
        if previous is not None and previous >= not_before:
            # A second revocation within the same second must still refuse the tokens issued
            # between the two (they carry iat = previous): one second further, within the leeway.
            not_before = min(previous + 1, not_before + MAX_AHEAD_SECONDS)
        await users.update(tx, user_id, {"tokens_not_before": not_before})
    await _announce(tx, verifier, {"user_id": user_id, "session_id": None, "not_before": not_before})
    return not_before


async def _announce(tx: Session, verifier: TokenVerifier | None, data: dict[str, object]) -> None:
    await publish(tx, TOKENS_REVOKED, data, source="auth")
    if verifier is not None:
        # Our own replica refuses at once; should the transaction roll back, refusing a token of
        # a session or role that was being ended anyway is the safe side.
        apply_revocation(verifier, data)
