"""The auth service's settings (env prefix `TDC_`, every field here starts with `auth_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from tdc_shared.settings import ServiceSettings

PROVIDERS: tuple[str, ...] = ("google", "discord", "facebook")


def _repo_root() -> Path:
    """The checkout holding this package (where `.run/` is git-ignored), else the working directory."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file() and (parent / "services").is_dir():
            return parent
    return Path.cwd()


class AuthSettings(ServiceSettings):
    dev_only_defaults: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.dev_only_defaults,
        "auth_session_secret",
        "auth_public_url",
    )

    service_name: str = "auth"

    # At most an hour: every verifier remembers a revocation for an hour (tdc_shared.auth), which
    # must outlast the tokens it refuses. This is also the window a deactivated Patreon standing or a
    # revocation missed while the broker was away can last.
    auth_access_token_ttl: int = Field(900, ge=60, le=3600)
    auth_refresh_token_ttl: int = 30 * 24 * 3600
    auth_email_verification_ttl: int = 48 * 3600
    auth_password_reset_ttl: int = 3600

    # PEM private keys (RSA -> RS256, Ed25519 -> EdDSA). Every key is published in the JWKS; the
    # file whose name sorts last signs, so a rotation is "add 2026-12-01.pem, later delete the old one".
    # Empty: `<checkout>/.run/keys`, where dev and test generate a key on first start.
    auth_signing_keys_dir: str = ""

    # argon2id cost (argon2-cffi's defaults are RFC 9106's low-memory profile).
    auth_argon2_time_cost: int = 3
    auth_argon2_memory_kib: int = 65536
    auth_argon2_parallelism: int = 4
    # Hashes computed at once per process (each holds auth_argon2_memory_kib of memory).
    auth_hash_concurrency: int = 4

    # Login throttling (moving windows in `limits` syntax): failures per account and per client.
    auth_login_account_limit: str = "5/15 minutes"
    auth_login_client_limit: str = "50/15 minutes"
    # Mails a single address can trigger (verification resends, password resets).
    auth_email_request_limit: str = "5/hour"

    # Signs the short-lived cookie that carries OAuth state, nonce and PKCE verifier to the callback.
    auth_session_secret: str = "dev-only-oauth-session-secret-change-me"  # noqa: S105 (refused outside dev)
    # Where the browser lands after an OAuth login (with the refresh cookie set), or an error query.
    auth_frontend_url: str = "http://localhost:5173/auth/callback"
    # Public base URL of the API as the browser reaches it (the gateway, or the TLS edge in front of
    # it): the OAuth callback URL is built from it alone, never from request headers. The default
    # is `make run`'s gateway; production must set it.
    auth_public_url: str = "http://localhost:8000"

    auth_google_client_id: str = ""
    auth_google_client_secret: str = ""
    auth_google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"

    auth_discord_client_id: str = ""
    auth_discord_client_secret: str = ""
    auth_discord_authorize_url: str = "https://discord.com/oauth2/authorize"
    auth_discord_token_url: str = "https://discord.com/api/oauth2/token"  # noqa: S105 (an endpoint)
    auth_discord_userinfo_url: str = "https://discord.com/api/users/@me"

    auth_facebook_client_id: str = ""
    auth_facebook_client_secret: str = ""
    auth_facebook_authorize_url: str = "https://www.facebook.com/v19.0/dialog/oauth"
    auth_facebook_token_url: str = "https://graph.facebook.com/v19.0/oauth/access_token"  # noqa: S105
    auth_facebook_userinfo_url: str = "https://graph.facebook.com/v19.0/me?fields=id,name,email"

    bootstrap_admin_email: str = ""
    bootstrap_admin_password: str = ""

    def signing_keys_path(self) -> Path:
        return Path(self.auth_signing_keys_dir) if self.auth_signing_keys_dir else _repo_root() / ".run" / "keys"

    def provider_configured(self, provider: str) -> bool:
        return bool(getattr(self, f"auth_{provider}_client_id") and getattr(self, f"auth_{provider}_client_secret"))
