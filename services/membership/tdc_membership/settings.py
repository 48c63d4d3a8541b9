"""Membership settings: the shared ones plus Patreon, reconciliation, linking and downloads.

Every Patreon setting may be empty: the service then runs without Patreon (its admin status
says what is missing), serves the tiers, supporters and exclusive items it already holds, and
answers 503 to the few routes that need Patreon itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from tdc_shared.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]


class MembershipSettings(ServiceSettings):
    dev_only_defaults: ClassVar[tuple[str, ...]] = (*ServiceSettings.dev_only_defaults, "membership_download_secret")

    service_name: str = "membership"

    # The base of every Patreon address: /oauth2/authorize, /api/oauth2/token, /api/oauth2/v2/...
    membership_patreon_api_url: str = "https://www.patreon.com"
    membership_patreon_campaign_id: str = ""
    # The creator's access token: reads the campaign, its tiers and members.
    membership_patreon_access_token: str = ""
    # The OAuth client that links a member's Patreon account to ours.
    membership_patreon_client_id: str = ""
    membership_patreon_client_secret: str = ""
    membership_patreon_webhook_secret: str = ""
    # Where Patreon sends the browser back (registered with the client): the public callback.
    membership_patreon_redirect_uri: str = "http://localhost:8000/api/v1/support/patreon/callback"
    # The campaign's page for the support page; empty: the one read from Patreon at the last sync.
    membership_patreon_campaign_url: str = ""
    membership_patreon_timeout_seconds: float = Field(10.0, gt=0)
    # Tries of one Patreon request (connection errors, 5xx, 429) before giving up.
    membership_patreon_max_attempts: int = Field(5, ge=1, le=20)
    # A 429 asking for a longer pause than this is not waited out: the call fails instead.
    membership_patreon_max_retry_wait_seconds: float = Field(300.0, ge=0)
    membership_patreon_page_size: int = Field(500, ge=1, le=1000)

    # Reconciliation with the members list: how often (0: only on an admin's request), and how
    # long one replica's claim lasts without a heartbeat before another may take the run over.
    membership_reconcile_interval_seconds: float = Field(86400.0, ge=0)
    membership_reconcile_lease_seconds: float = Field(300.0, gt=0)
    membership_reconcile_check_seconds: float = Field(60.0, gt=0)

    # Linking: how long a state handed to the browser stays good.
    membership_link_state_ttl_seconds: int = Field(600, gt=0, le=3600)

    # Files of exclusive items (shared by replicas: a volume), and their signed download links.
    membership_files_dir: Path = REPO_ROOT / ".run" / "membership-files"
    membership_file_max_bytes: int = Field(200 * 1024 * 1024, gt=0)
    membership_download_secret: str = "dev-only-download-signing-secret-change-me"  # noqa: S105 (refused outside dev)
    membership_download_ttl_seconds: int = Field(900, gt=0, le=7 * 86400)

    membership_webhook_max_bytes: int = Field(256 * 1024, gt=0)
    membership_deliveries_retention_days: float = Field(30.0, gt=0)

    # Where the browser lands after linking (with ?patreon=linked or ?patreon=error&reason=...).
    frontend_url: str = "http://localhost:5173"

    def missing_patreon_settings(self) -> list[str]:
        """The Patreon settings still empty, as environment variable names."""
        names = {
            "TDC_MEMBERSHIP_PATREON_CAMPAIGN_ID": self.membership_patreon_campaign_id,
            "TDC_MEMBERSHIP_PATREON_ACCESS_TOKEN": self.membership_patreon_access_token,
            "TDC_MEMBERSHIP_PATREON_CLIENT_ID": self.membership_patreon_client_id,
            "TDC_MEMBERSHIP_PATREON_CLIENT_SECRET": self.membership_patreon_client_secret,
            "TDC_MEMBERSHIP_PATREON_WEBHOOK_SECRET": self.membership_patreon_webhook_secret,
        }
        return [name for name, value in names.items() if not value]

    @property
    def can_read_members(self) -> bool:
        return bool(self.membership_patreon_campaign_id and self.membership_patreon_access_token)

    @property
    def can_link(self) -> bool:
        return bool(self.membership_patreon_client_id and self.membership_patreon_client_secret)
