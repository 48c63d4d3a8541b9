"""The gateway's settings: every field is `TDC_GATEWAY_*` so no service's variable can collide."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import field_validator
from pydantic_settings import NoDecode

from tdc_shared.settings import ServiceSettings, ip_networks

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROUTES_DIR = REPO_ROOT / "deploy" / "traefik" / "dynamic"


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    # The gateway has no database: only the broker account (token revocations) must be set.
    dev_only_defaults: ClassVar[tuple[str, ...]] = ("amqp_url",)

    # Traefik v3 file-provider dynamic configuration: every *.yml in it, merged.
    gateway_routes_dir: Path = DEFAULT_ROUTES_DIR
    # JSON {"auth": "http://127.0.0.1:8001", "catalog": ["http://127.0.0.1:8002", ...], ...}:
    # replaces the server URLs of the Traefik service of that name (or whose server host is that
    # name), for runs outside compose; a list gives one server per replica.
    gateway_upstreams: dict[str, str | list[str]] = {}

    gateway_max_body_bytes: int = 20 * 1024 * 1024
    # Per-route values come from the route's serversTransport; these are the defaults.
    gateway_connect_timeout_seconds: float = 1.0
    gateway_response_timeout_seconds: float = 30.0
    # Shorter than uvicorn's 5 s keep-alive, so we never reuse a connection the upstream is closing.
    gateway_keepalive_seconds: float = 4.0
    gateway_upstream_connections: int = 512
    # Open connections per upstream host (0: no cap). Fewer, busier keep-alive connections cost
    # a one-worker upstream less per request; requests beyond the cap wait in the gateway.
    gateway_upstream_connections_per_host: int = 0

    # Browser origins allowed to call the API with credentials (cookies).
    gateway_cors_origins: Annotated[list[str], NoDecode] = ["http://localhost:5173", "http://localhost:3000"]
    gateway_cors_max_age: int = 600
    # Peers whose X-Forwarded-For we extend instead of replacing, e.g. Traefik or an Ingress
    # controller: IP addresses or networks (10.0.0.0/8 for a pod network whose addresses change).
    gateway_trusted_proxies: Annotated[list[str], NoDecode] = []
    # The address the gateway connects to services from (empty: the system's choice). Services
    # believe X-Forwarded-For only from the peers in their TDC_TRUSTED_PROXIES, so when the gateway
    # and services share a host (make run) it is 127.0.0.2 there, and a direct caller on 127.0.0.1
    # is not taken for the gateway.
    gateway_source_address: str = ""

    # Listen on the broker for auth's token revocations (tdc_shared.events.revocations).
    gateway_token_revocations: bool = True

    gateway_openapi_cache_seconds: float = 10.0
    # How long the admin dashboard waits for the slowest service before showing it as unavailable.
    gateway_dashboard_deadline_seconds: float = 3.0
    # Signature policies only check that the header is there; the service verifies the HMAC.
    gateway_sl_signature_header: str = "X-SL-Signature"
    gateway_webhook_signature_headers: Annotated[list[str], NoDecode] = ["X-Patreon-Signature"]

    @field_validator(
        "gateway_cors_origins", "gateway_trusted_proxies", "gateway_webhook_signature_headers", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("gateway_trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        return ip_networks(value)

    @field_validator("gateway_upstreams", mode="before")
    @classmethod
    def _upstreams_json(cls, value: object) -> object:
        if isinstance(value, str):
            import json

            return json.loads(value) if value.strip() else {}
        return value
