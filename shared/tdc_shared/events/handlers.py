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

from ..db import Session
from .catalog import spec_for
from .envelope import Event

Handler = Callable[[Session, Event], Awaitable[None]]


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        spec_for(event_type)  # refuse a handler for an event nobody can publish

        def register(handler: Handler) -> Handler:
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register

    def handlers_for(self, event_type: str) -> list[Handler]:
        return list(self._handlers.get(event_type, ()))

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def __bool__(self) -> bool:
        return bool(self._handlers)
