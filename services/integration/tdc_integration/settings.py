"""Integration settings: the shared ones plus Google Calendar, the Facebook page, the push
worker, the key that encrypts secrets at rest, and the Second Life API."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from tdc_shared.settings import ServiceSettings

GOOGLE_API_URL = "https://www.googleapis.com/calendar/v3"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address, not a secret)
GRAPH_URL = "https://graph.facebook.com"

# A Fernet key (32 random bytes, url-safe base64) fine on a laptop and refused in production.
DEV_SECRET_KEY = "ZGV2LW9ubHktaW50ZWdyYXRpb24ta2V5LTMyYnl0ZXM="  # noqa: S105 (the development default, refused in prod)


class IntegrationSettings(ServiceSettings):
    dev_only_defaults: ClassVar[tuple[str, ...]] = ("mysql_url", "amqp_url", "integration_secret_key")

    service_name: str = "integration"

    # Encrypts the Facebook page token set by admins and the Second Life object secrets.
    # Make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
    integration_secret_key: str = DEV_SECRET_KEY

    # Where links in posts and calendar entries point: the public site, and its admin pages.
    frontend_url: str = "http://localhost:5173"
    integration_admin_event_url: str = "{frontend}/admin/events/{id}"
    integration_public_event_url: str = "{frontend}/events/{slug}"
    # The language of calendar entries and page posts.
    integration_language: str = "en"

    # -- Google Calendar -------------------------------------------------------------------
    # The service account's JSON key file; without it the integration is disabled.
    integration_google_credentials_file: Path | None = None
    integration_google_internal_calendar_id: str = ""
    integration_google_public_calendar_id: str = ""
    integration_google_api_url: str = GOOGLE_API_URL
    integration_google_token_url: str = GOOGLE_TOKEN_URL
    integration_google_scope: str = "https://www.googleapis.com/auth/calendar.events"
    # A 403 quotaExceeded stops calls for this long (Google's daily quotas; None = until the
    # next midnight Pacific time, when they reset).
    integration_google_quota_pause_seconds: float | None = None

    # -- Facebook page ---------------------------------------------------------------------
    integration_facebook_page_id: str = ""
    # The initial page token; an admin can replace it (PUT .../facebook/token), kept encrypted.
    integration_facebook_page_token: str = ""
    integration_facebook_graph_url: str = GRAPH_URL
    integration_facebook_graph_version: str = "v24.0"

    # -- the push worker -------------------------------------------------------------------
    integration_http_timeout_seconds: float = Field(10.0, gt=0)
    # Tries of one call (backoff with jitter between them) before the push is parked.
    integration_push_attempts: int = Field(4, ge=1, le=20)
    integration_backoff_base_seconds: float = Field(1.0, ge=0)
    integration_backoff_max_seconds: float = Field(30.0, gt=0)
    # A parked push is tried again by the sweep after this long.
    integration_sweep_seconds: float = Field(300.0, gt=0)
    integration_worker_poll_seconds: float = Field(2.0, gt=0)
    # A claimed push is another replica's again if it was not finished within this long.
    integration_push_lease_seconds: int = Field(300, ge=10)
    integration_worker_enabled: bool = True
    integration_log_retention_days: int = Field(30, ge=1)

    # -- Second Life -------------------------------------------------------------------------
    # Only requests from this grid are served (X-SecondLife-Shard); the beta grid is "Testing".
    integration_sl_shard: str = "Production"
    # How far X-SL-Timestamp may be from our clock; nonces are remembered this long.
    integration_sl_window_seconds: int = Field(300, ge=30, le=3600)
    # Per object, a little above the simulator's own throttle (about 25 requests per 20 s).
    integration_sl_rate_limit: int = Field(30, ge=1)
    integration_sl_rate_period_seconds: int = Field(20, ge=1)
    # After a rotation the previous secret keeps working this long (scripts in the field).
    integration_sl_secret_grace_seconds: int = Field(3600, ge=0)
    integration_sl_board_items: int = Field(5, ge=1, le=20)
    # How long a rendered board is reused (per replica); changes applied here clear it at once.
    integration_sl_board_cache_seconds: float = Field(2.0, ge=0)
    integration_sl_visitors_retention_days: int = Field(90, ge=1)
    # What a script reads of a body by default (HTTP_BODY_MAXLENGTH): every answer stays below.
    integration_sl_body_limit: int = Field(2048, ge=256)

    @field_validator("integration_secret_key")
    @classmethod
    def _fernet_key(cls, value: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError) as exc:
            raise ValueError("must be url-safe base64 of 32 bytes (a Fernet key)") from exc
        if len(raw) != 32:
            raise ValueError("must be url-safe base64 of 32 bytes (a Fernet key)")
        return value

    @field_validator("integration_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in ("en", "it", "fr", "es"):
            raise ValueError("must be one of en, it, fr, es")
        return value

    @property
    def google_enabled(self) -> bool:
        return self.integration_google_credentials_file is not None and bool(
            self.integration_google_internal_calendar_id or self.integration_google_public_calendar_id
        )

    @property
    def facebook_configured(self) -> bool:
        return bool(self.integration_facebook_page_id)
