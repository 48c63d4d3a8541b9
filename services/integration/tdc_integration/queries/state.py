"""SQL for what replicas share about each integration: reauth, pauses, last success, token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tdc_shared.db import Session


async def get(tx: Session, integration: str) -> dict[str, Any]:
    row = await tx.fetch_one(
        "SELECT needs_reauth, paused_until, reason, token_ciphertext, token_set_at, last_success_at, last_failure_at"
        " FROM integration_state WHERE integration = %s",
        (integration,),
    )
    return row or {
        "needs_reauth": 0,
        "paused_until": None,
        "reason": None,
        "token_ciphertext": None,
        "token_set_at": None,
        "last_success_at": None,
        "last_failure_at": None,
    }


async def _ensure(tx: Session, integration: str) -> None:
    await tx.execute("INSERT IGNORE INTO integration_state (integration) VALUES (%s)", (integration,))


# One statement each, not `_ensure` then UPDATE: INSERT IGNORE of the existing row takes a shared
# lock, and two workers (replicas) recording pushes at once then both wait to upgrade it to the
# UPDATE's exclusive lock - a deadlock. The upsert takes the exclusive lock at once: they queue.
async def succeeded(tx: Session, integration: str) -> None:
    await tx.execute(
        "INSERT INTO integration_state (integration, last_success_at) VALUES (%s, UTC_TIMESTAMP(6))"
        " ON DUPLICATE KEY UPDATE last_success_at = VALUES(last_success_at)",
        (integration,),
    )


async def failed(tx: Session, integration: str) -> None:
    await tx.execute(
        "INSERT INTO integration_state (integration, last_failure_at) VALUES (%s, UTC_TIMESTAMP(6))"
        " ON DUPLICATE KEY UPDATE last_failure_at = VALUES(last_failure_at)",
        (integration,),
    )


async def needs_reauth(tx: Session, integration: str, reason: str) -> None:
    await _ensure(tx, integration)
    await tx.execute(
        "UPDATE integration_state SET needs_reauth = 1, reason = %s WHERE integration = %s",
        (reason[:500], integration),
    )


async def pause(tx: Session, integration: str, until: datetime, reason: str) -> None:
    await _ensure(tx, integration)
    await tx.execute(
        "UPDATE integration_state SET paused_until = %s, reason = %s WHERE integration = %s",
        (until, reason[:500], integration),
    )


async def set_token(tx: Session, integration: str, ciphertext: str) -> None:
    await _ensure(tx, integration)
    await tx.execute(
        "UPDATE integration_state SET token_ciphertext = %s, token_set_at = UTC_TIMESTAMP(6), needs_reauth = 0,"
        " reason = NULL WHERE integration = %s",
        (ciphertext, integration),
    )
