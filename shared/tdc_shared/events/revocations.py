"""Token revocations reach every process: the broadcast that feeds `tdc_shared.auth.Revocations`.

Auth publishes `auth.tokens.revoked` through its outbox (logout, password change, role change,
account disabled); every process keeps the revocations in its verifier, so the gateway and
every service refuse old tokens within moments, without asking auth per request.

- Services get this for free: `event_bus(...)` merges `revocation_handlers(app.state.verifier)`
  into its broadcast consumer.
- The gateway, which has no database and no outbox, runs `RevocationListener` (a broker link
  with just this broadcast consumer).

While a process is cut off from the broker it misses what is published meanwhile (broadcast
queues are per connection): the access-token lifetime bounds that window. After a reconnect
the verifier's token cache is emptied, so every token is checked again from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry

from ..auth import TokenVerifier
from ..settings import ServiceSettings
from .broadcast import BroadcastConsumer
from .envelope import Event
from .handlers import BroadcastHandler, BroadcastRegistry
from .link import BrokerLink, stop_tasks
from .metrics import BusMetrics
from .topology import Names

log = logging.getLogger(__name__)

TOKENS_REVOKED = "auth.tokens.revoked"


def apply_revocation(verifier: TokenVerifier, data: dict[str, Any]) -> None:
    """Record one `auth.tokens.revoked` payload in the verifier's set (malformed ones are logged)."""
    try:
        user_id = int(data["user_id"])
        session_id = data.get("session_id")
        not_before = data.get("not_before")
        if session_id is not None and not isinstance(session_id, str):
            raise ValueError("session_id must be a string")
        nb = float(not_before) if not_before is not None and session_id is None else None
    except (KeyError, TypeError, ValueError) as exc:
        log.error("malformed token revocation ignored: %s", exc)
        return
    verifier.revocations.revoke(user_id=user_id, session_id=session_id, not_before=nb)


def revocation_handlers(verifier: TokenVerifier) -> BroadcastRegistry:
    registry = BroadcastRegistry()

    @registry.on(TOKENS_REVOKED)
    async def remember_revocation(event: Event) -> None:
        apply_revocation(verifier, event.data)

    @registry.on_resync
    async def forget_checked_tokens() -> None:
        # Revocations sent while we were away were missed: check every token afresh from now on.
        verifier.forget_cached()

    return registry


class MergedBroadcast:
    """Several broadcast registries as one (what `BroadcastConsumer` reads)."""

    def __init__(self, *registries: Any) -> None:
        self._registries = [r for r in registries if r]

    @property
    def event_types(self) -> list[str]:
        return sorted({t for r in self._registries for t in r.event_types})

    def handlers_for(self, event_type: str) -> list[BroadcastHandler]:
        return [h for r in self._registries for h in r.handlers_for(event_type)]

    @property
    def resync_callbacks(self) -> list[Callable[[], Awaitable[None]]]:
        return [c for r in self._registries for c in getattr(r, "resync_callbacks", ())]

    def __bool__(self) -> bool:
        return bool(self._registries)


class RevocationListener:
    """A broker link carrying only the revocation broadcast: for processes without an event bus."""

    def __init__(
        self, settings: ServiceSettings, verifier: TokenVerifier, *, service: str, registry: CollectorRegistry | None
    ) -> None:
        self.link = BrokerLink(
            settings.amqp_url,
            name=f"{settings.bus_namespace}.{service}.revocations",
            max_backoff=settings.bus_reconnect_max_seconds,
        )
        self.consumer = BroadcastConsumer(
            self.link,
            Names(settings.bus_namespace),
            service=service,
            handlers=revocation_handlers(verifier),
            metrics=BusMetrics(registry),
        )
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.link.run(), name="revocation-link"))

    async def stop(self) -> None:
        await self.consumer.stop()
        await stop_tasks(self._tasks, "revocation listener")
        self._tasks.clear()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RevocationListener]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()
