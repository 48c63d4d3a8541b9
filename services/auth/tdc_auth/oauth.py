"""OAuth / OpenID Connect sign-in through Authlib: Google (OIDC discovery), Discord, Facebook.

Each provider is registered only when its client id and secret are set. Authlib keeps the
state, the OIDC nonce and the PKCE (S256) verifier in the signed session cookie between the
login redirect and the callback, so no server-side affinity is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.integrations.starlette_client import OAuth
from authlib.integrations.starlette_client.apps import StarletteOAuth2App

from .settings import PROVIDERS, AuthSettings

OAUTH_COOKIE = "tdc_oauth"
OAUTH_COOKIE_PATH = "/api/v1/auth/oauth"
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in. `email_verified` is the provider's own claim."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class OAuthProviders:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.registry = OAuth()
        common = {"code_challenge_method": "S256", "timeout": HTTP_TIMEOUT_SECONDS}
        if settings.provider_configured("google"):
            self.registry.register(
                "google",
                client_id=settings.auth_google_client_id,
                client_secret=settings.auth_google_client_secret,
                server_metadata_url=settings.auth_google_discovery_url,
                client_kwargs={**common, "scope": "openid email profile"},
            )
        if settings.provider_configured("discord"):
            self.registry.register(
                "discord",
                client_id=settings.auth_discord_client_id,
                client_secret=settings.auth_discord_client_secret,
                authorize_url=settings.auth_discord_authorize_url,
                access_token_url=settings.auth_discord_token_url,
                client_kwargs={**common, "scope": "identify email", "token_endpoint_auth_method": "client_secret_post"},
            )
        if settings.provider_configured("facebook"):
            self.registry.register(
                "facebook",
                client_id=settings.auth_facebook_client_id,
                client_secret=settings.auth_facebook_client_secret,
                authorize_url=settings.auth_facebook_authorize_url,
                access_token_url=settings.auth_facebook_token_url,
                client_kwargs={
                    **common,
                    "scope": "email public_profile",
                    "token_endpoint_auth_method": "client_secret_post",
                },
            )

    def client(self, provider: str) -> StarletteOAuth2App | None:
        if provider not in PROVIDERS or not self.settings.provider_configured(provider):
            return None
        return self.registry.create_client(provider)

    async def identity(self, provider: str, client: StarletteOAuth2App, token: dict[str, Any]) -> Identity:
        if provider == "google":
            # Authlib has already checked the id_token's signature (provider JWKS), iss, aud, exp and nonce.
            claims = token.get("userinfo") or {}
            return Identity(
                provider,
                str(claims["sub"]),
                claims.get("email"),
                claims.get("email_verified") is True,
                claims.get("name"),
            )
        if provider == "discord":
            response = await client.get(self.settings.auth_discord_userinfo_url, token=token)
            response.raise_for_status()
            data = response.json()
            return Identity(
                provider,
                str(data["id"]),
                data.get("email"),
                data.get("verified") is True,
                data.get("global_name") or data.get("username"),
            )
        response = await client.get(self.settings.auth_facebook_userinfo_url, token=token)
        response.raise_for_status()
        data = response.json()
        # The Graph API does not say whether it confirmed the address: never trust it to link an account.
        return Identity(provider, str(data["id"]), data.get("email"), False, data.get("name"))
