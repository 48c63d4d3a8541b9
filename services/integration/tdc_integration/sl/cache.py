"""Rendered boards, kept a moment: many boards in one venue ask for the same bytes.

Each replica keeps its own; a catalog event or a check-in applied here clears them at once,
and the short TTL bounds how long another replica's change takes to show. The signature, the
replay check and the rate limit still run for every request: only the rendering is shared.
"""

from __future__ import annotations

import time
import weakref

_caches: weakref.WeakSet[BoardCache] = weakref.WeakSet()


class BoardCache:
    def __init__(self, ttl: float, max_entries: int = 2000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str, str], tuple[float, bytes]] = {}
        _caches.add(self)

    def get(self, key: tuple[str, str, str]) -> bytes | None:
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: tuple[str, str, str], body: bytes) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, body)

    def clear(self) -> None:
        self._entries.clear()


def forget_boards() -> None:
    """After a commit that changed what boards show (this process)."""
    for cache in list(_caches):
        cache.clear()
