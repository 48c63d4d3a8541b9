"""Ended sessions and spent one-time tokens are purged; live ones stay."""

from __future__ import annotations

import httpx2
from auth_testkit import Accounts

from tdc_auth.housekeeping import purge


async def test_purge_keeps_live_sessions_and_drops_long_ended_ones(client: httpx2.AsyncClient, accounts: Accounts):
    db = accounts.app.state.db
    live = await accounts.signed_in()
    ended = await accounts.signed_in()
    await client.post("/api/v1/auth/forgot-password", json={"email": ended["email"]})
    await db.execute(
        "UPDATE sessions SET revoked_at = NOW(6) - INTERVAL 8 DAY, revoked_reason = 'logout' WHERE user_id = %s",
        (ended["id"],),
    )
    await db.execute(
        "UPDATE one_time_tokens SET expires_at = NOW(6) - INTERVAL 8 DAY WHERE user_id = %s", (ended["id"],)
    )
    assert await purge(db) >= 2
    assert await db.fetch_value("SELECT COUNT(*) FROM sessions WHERE user_id = %s", (ended["id"],)) == 0
    assert (
        await db.fetch_value(
            "SELECT COUNT(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = %s",
            (ended["id"],),
        )
        == 0
    )
    assert await db.fetch_value("SELECT COUNT(*) FROM one_time_tokens WHERE user_id = %s", (ended["id"],)) == 0
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": live["refresh_token"]})).status_code == 200
    client.cookies.clear()
    gone = await client.post("/api/v1/auth/refresh", json={"refresh_token": ended["refresh_token"]})
    assert gone.status_code == 401
