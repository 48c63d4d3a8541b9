"""Demo content for `make run` (TDC_DEMO_DATA=true): two tiers in four languages and a few
exclusive items. Loaded only into an empty table; a real sync later rewrites the tiers'
Patreon columns (the demo ids are not Patreon's, so real tiers simply appear beside them)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from tdc_shared.db import Database
from tdc_shared.translations import upsert_translations

from .queries import exclusive as item_queries
from .queries import tiers as tier_queries
from .queries.common import is_duplicate

log = logging.getLogger(__name__)

TIERS: list[dict[str, Any]] = [
    {
        "id": "demo-dreamer",
        "title": "Dreamer",
        "amount_cents": 300,
        "t": {
            "en": {"title": "Dreamer", "description": "Keep the cave lit.", "benefits": "Supporters' wall, early news"},
            "it": {"title": "Sognatore", "description": "Tieni accesa la grotta.", "benefits": "Muro dei sostenitori"},
            "fr": {"title": "Rêveur", "description": "Gardez la grotte allumée.", "benefits": "Mur des soutiens"},
            "es": {"title": "Soñador", "description": "Mantén la cueva encendida.", "benefits": "Muro de apoyos"},
        },
    },
    {
        "id": "demo-night-owl",
        "title": "Night Owl",
        "amount_cents": 1000,
        "t": {
            "en": {"title": "Night Owl", "description": "For the regulars.", "benefits": "Exclusive sets, downloads"},
            "it": {"title": "Nottambulo", "description": "Per i fedelissimi.", "benefits": "Set e download esclusivi"},
            "fr": {"title": "Oiseau de nuit", "description": "Pour les habitués.", "benefits": "Sets exclusifs"},
            "es": {"title": "Búho nocturno", "description": "Para los habituales.", "benefits": "Sets exclusivos"},
        },
    },
]

ITEMS: list[dict[str, Any]] = [
    {
        "kind": "post",
        "title": "Behind the decks",
        "summary": "How a night at the cave is put together.",
        "body": "Every set starts with a mood board of the venue...",
        "required_tier_id": None,
        "t": {"it": {"title": "Dietro la consolle", "summary": "Come nasce una serata alla grotta."}},
    },
    {
        "kind": "audio",
        "title": "Nebula Dome closing set",
        "summary": "Two hours recorded live.",
        "url": "https://soundcloud.com/dreamers-cave/nebula-dome-closing-set",
        "required_tier_id": "demo-night-owl",
        "t": {"fr": {"title": "Set de clôture du Nebula Dome"}},
    },
    {
        "kind": "video",
        "title": "Building the Crystal Grotto",
        "summary": "A time-lapse of the build.",
        "url": "https://www.youtube.com/watch?v=dreamerscave",
        "required_tier_id": "demo-dreamer",
        "t": {"es": {"title": "Construyendo la Gruta de Cristal"}},
    },
]


async def load(app: FastAPI) -> None:
    db: Database = app.state.db
    async with db.session() as s:
        if await s.fetch_value("SELECT 1 FROM tiers LIMIT 1") or await s.fetch_value(
            "SELECT 1 FROM exclusive_items LIMIT 1"
        ):
            return
    try:
        async with db.transaction() as tx:
            for tier in TIERS:
                await tx.execute(
                    "INSERT INTO tiers (id, patreon_title, amount_cents, sort_order) VALUES (%s, %s, %s, %s)",
                    (tier["id"], tier["title"], tier["amount_cents"], tier["amount_cents"]),
                )
                await tier_queries.set_translations(tx, str(tier["id"]), dict(tier["t"]))
            for item in ITEMS:
                values = {k: v for k, v in item.items() if k != "t"}
                item_id = await item_queries.create(tx, values)
                await upsert_translations(
                    tx, "exclusive_item_translations", "item_id", item_id, item["t"], item_queries.TEXT_FIELDS
                )
    except Exception as exc:
        if is_duplicate(exc):
            log.info("demo membership data loaded by another replica")
            return
        raise
    log.info("demo membership data loaded")
