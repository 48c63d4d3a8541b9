"""Notification settings: the shared ones plus the SMTP relay, links, the queue and its retries."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from tdc_shared.settings import ServiceSettings

from .smtp import SmtpTarget


class NotificationSettings(ServiceSettings):
    dev_only_defaults: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.dev_only_defaults,
        "notification_unsubscribe_secret",
        "notification_smtp_url",
    )

    service_name: str = "notification"

    # smtp://user:pass@host:port, smtp+starttls://..., smtps://... (`make run` points it at a local sink).
    notification_smtp_url: str = "smtp://127.0.0.1:1025"
    notification_mail_from: str = "The Dreamer's Cave <noreply@dreamerscave.example>"
    notification_smtp_timeout_seconds: float = Field(30.0, gt=0)

    # Links in mails: pages of the site, and the API for one-click unsubscribe (RFC 8058).
    frontend_url: str = "http://localhost:5173"
    public_api_url: str = "http://localhost:8000"

    # Signs the one-click unsubscribe links (HMAC-SHA256).
    notification_unsubscribe_secret: str = "dev-only-unsubscribe-secret-change-me"  # noqa: S105 (refused outside dev/test)
    notification_unsubscribe_ttl_days: int = Field(365, ge=1, le=3650)

    # The sender: each replica runs one, claiming due rows with SKIP LOCKED.
    notification_sender_enabled: bool = True
    notification_sender_batch: int = Field(20, ge=1, le=500)
    # SMTP connections per replica, each a lane that claims and sends on its own. Each lane has
    # at most one mail in the "relay has it, the database does not know yet" state.
    notification_sender_connections: int = Field(4, ge=1, le=16)
    notification_sender_poll_seconds: float = Field(1.0, gt=0)
    # A claimed batch must be finished within this; a replica that died holding it is found after.
    notification_sender_lease_seconds: float = Field(300.0, gt=0)
    # A 4xx reply or a lost connection is retried up to this many attempts in all, with backoff.
    notification_max_attempts: int = Field(6, ge=1, le=50)
    notification_retry_base_seconds: float = Field(30.0, ge=0)
    notification_retry_max_seconds: float = Field(3600.0, gt=0)

    @field_validator("notification_smtp_url")
    @classmethod
    def _smtp_url_parses(cls, value: str) -> str:
        SmtpTarget.parse(value)
        return value

    @field_validator("frontend_url", "public_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
