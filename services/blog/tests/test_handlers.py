"""membership.tier.updated through the real bus and inbox: the tier read model follows it."""

from __future__ import annotations

import json
import uuid

from blog_testkit import eventually
from test_visibility import send_tier

from tdc_blog.handlers import handlers, tier_names
from tdc_shared.events import consumed_by
from tdc_shared.events.revocations import TOKENS_REVOKED


def test_the_blog_consumes_exactly_what_the_catalog_says():
    # The blog's own events clear its caches (broadcast); token revocations are the bus's own.
    expected = [t for t in consumed_by("blog") if not t.startswith("blog.") and t != TOKENS_REVOKED]
    assert handlers.event_types == expected


def test_tier_names_are_read_tolerantly():
    assert tier_names({"en": {"title": "Star"}, "it": "Stella", "de": "Stern", "fr": {"name": "Étoile"}}) == {
        "en": "Star",
        "it": "Stella",
        "fr": "Étoile",
    }
    assert tier_names(None) == {} and tier_names({"en": {"title": ""}}) == {}


async def test_tier_events_build_and_update_the_read_model(blog, amqp_url, bus_namespace):
    await blog.app.state.event_bus.wait_ready()
    tier_id = f"tier-{uuid.uuid4().hex[:6]}"
    await send_tier(amqp_url, bus_namespace, tier_id, 300, {"en": {"title": "Comet"}})

    async def stored(cents: int) -> bool:
        row = await blog.db.fetch_one("SELECT amount_cents FROM patreon_tiers WHERE id = %s", (tier_id,))
        return row is not None and row["amount_cents"] == cents

    await eventually(lambda: stored(300))
    await send_tier(amqp_url, bus_namespace, tier_id, 400, {"en": {"title": "Comet+"}, "es": {"title": "Cometa"}})
    await eventually(lambda: stored(400))
    row = await blog.db.fetch_one("SELECT translations FROM patreon_tiers WHERE id = %s", (tier_id,))
    assert json.loads(row["translations"]) == {"en": "Comet+", "es": "Cometa"}
    # An unusable event is acknowledged and ignored; the consumer keeps going.
    await send_tier(amqp_url, bus_namespace, f"{tier_id}-bad", -1, {})
    await send_tier(amqp_url, bus_namespace, tier_id, 450, {"en": {"title": "Comet"}})
    await eventually(lambda: stored(450))
    assert await blog.db.fetch_value("SELECT 1 FROM patreon_tiers WHERE id = %s", (f"{tier_id}-bad",)) is None
