"""The state of each integration as admins see it and as the worker obeys it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from .queries import pushes as push_queries
from .queries import state as state_queries
from .secrets import SecretBox
from .settings import IntegrationSettings
from .timefmt import iso_utc, utc_now

INTEGRATIONS = ("google", "facebook")


@dataclass(frozen=True)
class IntegrationStatus:
    name: str
    state: str  # enabled | disabled | needs_reauth | paused
    reason: str | None
    paused_until: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    targets: tuple[str, ...]

    @property
    def callable(self) -> bool:
        return self.state == "enabled"


def google_targets(settings: IntegrationSettings) -> tuple[str, ...]:
    if not settings.google_enabled:
        return ()
    calendars = {
        "internal": settings.integration_google_internal_calendar_id,
        "public": settings.integration_google_public_calendar_id,
    }
    return tuple(name for name, calendar in calendars.items() if calendar)


def facebook_token(settings: IntegrationSettings, row: dict[str, Any], box: SecretBox) -> str | None:
    """The admin-set token when there is one (it replaces the configured one), else the setting."""
    if row.get("token_ciphertext"):
        return box.open(row["token_ciphertext"])
    return settings.integration_facebook_page_token or None


async def read(
    tx: Session, name: str, settings: IntegrationSettings, box: SecretBox, problem: str | None = None
) -> IntegrationStatus:
    """`problem`: why the integration could not be set up although configured (a bad key file)."""
    row = await state_queries.get(tx, name)
    paused = row["paused_until"] if row["paused_until"] and row["paused_until"] > utc_now() else None
    state: str
    reason: str | None
    if name == "google":
        targets = google_targets(settings)
        if problem:
            state, reason = "disabled", problem
        elif not targets:
            state, reason = (
                "disabled",
                (
                    "no service-account credentials (TDC_INTEGRATION_GOOGLE_CREDENTIALS_FILE)"
                    if settings.integration_google_credentials_file is None
                    else "no calendar id (TDC_INTEGRATION_GOOGLE_INTERNAL_CALENDAR_ID / _PUBLIC_CALENDAR_ID)"
                ),
            )
        else:
            state, reason = ("paused", row["reason"]) if paused else ("enabled", None)
    else:
        targets = ("page",) if settings.facebook_configured else ()
        if not targets:
            state, reason = "disabled", "no page id (TDC_INTEGRATION_FACEBOOK_PAGE_ID)"
        elif row["needs_reauth"]:
            state, reason = "needs_reauth", row["reason"] or "the page token was refused"
        elif facebook_token(settings, row, box) is None:
            state, reason = "needs_reauth", "no page token: set one with PUT /api/v1/admin/integrations/facebook/token"
        else:
            state, reason = ("paused", row["reason"]) if paused else ("enabled", None)
    return IntegrationStatus(
        name, state, reason, paused, row["last_success_at"], row["last_failure_at"], tuple(targets)
    )


async def report(
    tx: Session, settings: IntegrationSettings, box: SecretBox, problems: dict[str, str | None] | None = None
) -> list[dict[str, Any]]:
    counts = await push_queries.counts(tx)
    out = []
    for name in INTEGRATIONS:
        status = await read(tx, name, settings, box, (problems or {}).get(name))
        out.append(
            {
                "name": name,
                "state": status.state,
                "reason": status.reason,
                "targets": list(status.targets),
                "paused_until": iso_utc(status.paused_until),
                "last_success_at": iso_utc(status.last_success_at),
                "last_failure_at": iso_utc(status.last_failure_at),
                "pending": counts.get(name, {}).get("pending", 0),
                "failed": counts.get(name, {}).get("failed", 0),
            }
        )
    return out
