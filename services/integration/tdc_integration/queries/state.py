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


async def succeeded(tx: Session, integration: str) -> None:
    await _ensure(tx, integration)
    await tx.execute(
        "UPDATE integration_state SET last_success_at = UTC_TIMESTAMP(6) WHERE integration = %s", (integration,)
    )


async def failed(tx: Session, integration: str) -> None:
    await _ensure(tx, integration)
    await tx.execute(
        "UPDATE integration_state SET last_failure_at = UTC_TIMESTAMP(6) WHERE integration = %s", (integration,)
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
