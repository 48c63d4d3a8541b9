"""Settings on pydantic-settings: one `TDC_` prefix for every service.

Each service subclasses `ServiceSettings` and adds its own fields. Fields listed in
`dev_only_defaults` hold values that are fine on a laptop and dangerous anywhere else
(empty root password, guest broker account, demo secrets): outside dev and test the
settings refuse to load while any of them still has its default.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
DEV_ENVIRONMENTS = ("dev", "test")


def ip_networks(value: list[str]) -> list[str]:
    """`value` when every item is an IP address or network (trusted proxies), else ValueError."""
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address or network") from exc
    return value


class DefaultSecretError(ValueError):
    """A production deployment still carries a development default."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDC_", env_file=".env", extra="ignore")

    # Names of fields whose default value must not reach production.
    dev_only_defaults: ClassVar[tuple[str, ...]] = ("mysql_url", "amqp_url")

    env: Literal["dev", "test", "prod"] = "dev"
    service_name: str = "service"
    log_level: str = "INFO"

    mysql_url: str = "mysql://root:@127.0.0.1:3306"
    db_prefix: str = "tdc_"
    db_pool_size: int = 10
    db_pool_wait_seconds: float = 5.0
    db_connect_timeout_seconds: float = 5.0

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Prefix of the exchange and queue names (`tdc.events`, `tdc.catalog`), so that test runs
    # and several stacks can share one broker without seeing each other's messages.
    bus_namespace: str = "tdc"
    # Event bus tuning (tdc_shared.events.bus). A consumer batch holds up to prefetch/workers
    # deliveries: 256/2 measured ~35% less consumer CPU per event than 32/4 (one inbox INSERT,
    # one COMMIT and one ack per batch), with no change in latency at low rates.
    bus_prefetch: int = Field(256, ge=1, le=1000)
    # Concurrent consumer transactions; deliveries that arrive together share one of them.
    bus_consumer_workers: int = Field(2, ge=1, le=32)
    # Deliveries of one message before it goes to the service's dead-letter queue.
    bus_max_attempts: int = Field(5, ge=1, le=100)
    # Pause before a failed message goes back to the queue, times the attempt number.
    bus_retry_delay_seconds: float = Field(0.2, ge=0)
    bus_relay_batch_size: int = Field(200, ge=1, le=5000)
    # Fallback poll: commits in this process wake the relay at once; this catches the rest
    # (rows written by other replicas, retries whose backoff ran out).
    bus_relay_poll_seconds: float = Field(1.0, gt=0)
    bus_relay_retry_max_seconds: float = Field(60.0, gt=0)
    bus_publish_timeout_seconds: float = Field(10.0, gt=0)
    bus_reconnect_max_seconds: float = Field(10.0, gt=0)
    bus_outbox_retention_hours: float = Field(168.0, gt=0)
    bus_inbox_retention_days: float = Field(30.0, gt=0)

    jwt_issuer: str = "https://dreamerscave.example/auth"
    jwt_audience: str = "tdc-api"
    jwks_url: str = "http://127.0.0.1:8001/api/v1/auth/jwks.json"

    demo_data: bool = False

    # Peers (IPs or networks, comma-separated) whose X-Forwarded-For this process believes: the
    # gateway's source address(es). Empty (the default): nobody's, the TCP peer is the client.
    # `make run` sets it to the gateway's 127.0.0.2; compose to the gateway container's network.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Prometheus metrics on a port of their own (0: no metrics listener); never on the public one.
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        return ip_networks(value)

    @field_validator("db_prefix")
    @classmethod
    def _prefix_is_identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_]{0,40}", value):
            raise ValueError("db_prefix may hold only letters, digits and underscores (at most 40)")
        return value

    @field_validator("db_pool_size")
    @classmethod
    def _pool_size_in_range(cls, value: int) -> int:
        # mysql-connector caps its own pools at 32; we keep the same ceiling per process.
        if not 1 <= value <= 32:
            raise ValueError("db_pool_size must be between 1 and 32")
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> ServiceSettings:
        if self.env in DEV_ENVIRONMENTS:
            return self
        left = [name for name in self.dev_only_defaults if getattr(self, name) == type(self).model_fields[name].default]
        if left:
            names = ", ".join(f"TDC_{n.upper()}" for n in left)
            raise DefaultSecretError(f"{names} still hold development defaults; set them for env={self.env}")
        return self

    def schema_for(self, context: str) -> str:
        """The MySQL schema a bounded context owns, e.g. `tdc_catalog`."""
        name = f"{self.db_prefix}{context}"
        if not SCHEMA_NAME.fullmatch(name):
            raise ValueError(f"invalid schema name {name!r}")
        return name
