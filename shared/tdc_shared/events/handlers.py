"""The registry a consuming service fills: event type -> handler functions.

A handler runs inside the consumer's transaction, next to the inbox row that marks the event
processed, so its effect and "seen it" commit together or not at all:

    handlers = HandlerRegistry()

    @handlers.on("catalog.event.published")
    async def remember_event(tx: Session, event: Event) -> None:
        await tx.execute("INSERT INTO ...", (...))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ..db import Session
from .catalog import spec_for
from .envelope import Event

Handler = Callable[[Session, Event], Awaitable[None]]
BroadcastHandler = Callable[[Event], Awaitable[None]]
H = TypeVar("H")


class _Registry(Generic[H]):
    """Event type -> the functions registered for it, in registration order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[H]] = {}

    def on(self, event_type: str) -> Callable[[H], H]:
        spec_for(event_type)  # refuse a handler for an event nobody can publish

        def register(handler: H) -> H:
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register

    def handlers_for(self, event_type: str) -> list[H]:
        return list(self._handlers.get(event_type, ()))

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def __bool__(self) -> bool:
        return bool(self._handlers)


class HandlerRegistry(_Registry[Handler]):
    pass


class BroadcastRegistry(_Registry[BroadcastHandler]):
    """Handlers that every replica runs for each event (no transaction, no inbox, no retry).

    For state each process keeps for itself, such as a cache to drop:

        broadcast = BroadcastRegistry()

        @broadcast.on("catalog.event.updated")
        async def forget_cached_event(event: Event) -> None:
            cache.drop(event.data["id"])

        @broadcast.on_resync
        async def forget_everything() -> None:   # after every (re)connection to the broker
            cache.clear()
    """

    def __init__(self) -> None:
        super().__init__()
        self.resync_callbacks: list[Callable[[], Awaitable[None]]] = []

    def on_resync(self, callback: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self.resync_callbacks.append(callback)
        return callback
