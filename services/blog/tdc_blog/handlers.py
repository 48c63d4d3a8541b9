"""Every event the blog consumes, each under its event type.

Its own events (every replica, `broadcast`): a committed write anywhere clears each replica's
response cache.

membership.tier.updated: the blog keeps the tiers' amounts and translated titles, so a locked
post can say which tier opens it ("Nebula, 5.00 and up") without calling membership.
"""

from __future__ import annotations

import logging
from typing import Any

from tdc_shared.cache import ResponseCache
from tdc_shared.db import Session
from tdc_shared.events import EVENTS, BroadcastRegistry, Event, HandlerRegistry
from tdc_shared.i18n import LANGUAGES

from .queries import tiers

log = logging.getLogger(__name__)

handlers = HandlerRegistry()

# Every event the blog produces changes something a cached page may show.
CACHE_EVENTS = sorted(t for t, spec in EVENTS.items() if spec.producer == "blog")


def broadcast(cache: ResponseCache | None) -> BroadcastRegistry | None:
    """The registry that drops this replica's cached pages on the blog's own events."""
    if cache is None:
        return None
    registry = BroadcastRegistry()

    async def drop_cached_pages(_: Event) -> None:
        cache.clear()

    async def drop_after_reconnect() -> None:
        # Events sent while this replica was cut off from the broker were never seen.
        cache.clear()

    for event_type in CACHE_EVENTS:
        registry.on(event_type)(drop_cached_pages)
    registry.on_resync(drop_after_reconnect)
    return registry


def tier_names(translations: Any) -> dict[str, str]:
    """{lang: title} from the event's `translations`, read tolerantly: a language may map to
    the title itself or to an object holding `title` (or `name`)."""
    names: dict[str, str] = {}
    if not isinstance(translations, dict):
        return names
    for language, value in translations.items():
        if language not in LANGUAGES:
            continue
        if isinstance(value, dict):
            value = value.get("title") or value.get("name")
        if isinstance(value, str) and value.strip():
            names[language] = value.strip()[:200]
    return names


@handlers.on("membership.tier.updated")
async def remember_tier(tx: Session, event: Event) -> None:
    data = event.data
    tier_id, cents = data.get("id"), data.get("amount_cents")
    if tier_id is None or isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
        # Retrying cannot make it readable; keep the consumer moving and say so.
        log.warning("ignoring membership.tier.updated %s without a usable id and amount", event.id)
        return
    await tiers.remember_tier(tx, str(tier_id)[:64], cents, tier_names(data.get("translations")))
