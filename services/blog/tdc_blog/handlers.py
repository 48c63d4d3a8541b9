"""Every event the blog consumes, each under its event type, run through the inbox.

membership.tier.updated: the blog keeps the tiers' amounts and translated titles, so a locked
post can say which tier opens it ("Nebula, 5.00 and up") without calling membership.
"""

from __future__ import annotations

import logging
from typing import Any

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry
from tdc_shared.i18n import LANGUAGES

from .queries import tiers

log = logging.getLogger(__name__)

handlers = HandlerRegistry()


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
