"""SQL for tiers (Patreon's columns) and their translations (ours)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import load_translations, upsert_translations, with_fallback

from ..jsonapi import TierInfo
from .common import in_language, iso_utc, utc_now

TEXT_FIELDS = ("title", "description", "benefits")
_COLUMNS = "id, patreon_title, patreon_description, amount_cents, join_url, published, sort_order, synced_at"


def _base(row: dict[str, Any]) -> dict[str, Any]:
    return {"title": row["patreon_title"], "description": row["patreon_description"], "benefits": None}


async def upsert_from_patreon(tx: Session, tier: TierInfo) -> bool:
    """Record Patreon's view of a tier; True when it is new or any of its Patreon columns
    changed. An unchanged tier is only read, so busy syncs and webhooks do not queue on it."""
    row = await tx.fetch_one(
        "SELECT patreon_title, patreon_description, amount_cents, join_url, published FROM tiers WHERE id = %s",
        (tier.id,),
    )
    if row is None:
        return bool(
            await tx.execute(
                "INSERT IGNORE INTO tiers (id, patreon_title, patreon_description, amount_cents, join_url, published,"
                " synced_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (tier.id, tier.title, tier.description, tier.amount_cents, tier.url, tier.published, utc_now()),
            )
        )
    columns = ("patreon_title", "patreon_description", "amount_cents", "join_url")
    held = (*(row[c] for c in columns), bool(row["published"]))
    if held == (tier.title, tier.description, tier.amount_cents, tier.url, tier.published):
        return False
    await tx.execute(
        "UPDATE tiers SET patreon_title = %s, patreon_description = %s, amount_cents = %s, join_url = %s,"
        " published = %s, synced_at = %s WHERE id = %s",
        (tier.title, tier.description, tier.amount_cents, tier.url, tier.published, utc_now(), tier.id),
    )
    return True


async def ensure_placeholder(tx: Session, tier_id: str, amount_cents: int) -> bool:
    """A tier a member is entitled to that Patreon did not describe: known by id until a sync
    reads its title and amount. True when the row was created."""
    return bool(
        await tx.execute(
            "INSERT IGNORE INTO tiers (id, patreon_title, amount_cents) VALUES (%s, %s, %s)",
            (tier_id, f"Tier {tier_id}", amount_cents),
        )
    )


async def amounts(tx: Session, tier_ids: Iterable[str]) -> dict[str, int]:
    ids = list(tier_ids)
    if not ids:
        return {}
    rows = await tx.fetch_all(
        f"SELECT id, amount_cents FROM tiers WHERE id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608, RUF100 (marks only)
        ids,
    )
    return {r["id"]: r["amount_cents"] for r in rows}


async def exists(tx: Session, tier_id: str) -> bool:
    return bool(await tx.fetch_value("SELECT 1 FROM tiers WHERE id = %s", (tier_id,)))


async def _rows(tx: Session, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    # `where` is SQL text written in this module.
    rows = await tx.fetch_all(
        f"SELECT {_COLUMNS} FROM tiers {where} ORDER BY amount_cents, sort_order, id",  # noqa: S608, RUF100 (constants only)
        params,
    )
    translations = await load_translations(tx, "tier_translations", "tier_id", [r["id"] for r in rows], TEXT_FIELDS)
    for row in rows:
        row["translations"] = translations.get(row["id"], {})
    return rows


def public_shape(row: dict[str, Any], language: str) -> dict[str, Any]:
    texts = in_language(row["translations"], language, TEXT_FIELDS, _base(row))
    return {"id": row["id"], **texts, "amount_cents": row["amount_cents"], "join_url": row["join_url"]}


def admin_shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "patreon_title": row["patreon_title"],
        "patreon_description": row["patreon_description"],
        "amount_cents": row["amount_cents"],
        "join_url": row["join_url"],
        "published": bool(row["published"]),
        "sort_order": row["sort_order"],
        "synced_at": iso_utc(row["synced_at"]),
        "translations": row["translations"],
    }


async def list_public(tx: Session, language: str) -> list[dict[str, Any]]:
    return [public_shape(r, language) for r in await _rows(tx, "WHERE published = 1")]


async def list_admin(tx: Session) -> list[dict[str, Any]]:
    return [admin_shape(r) for r in await _rows(tx)]


async def find_admin(tx: Session, tier_id: str) -> dict[str, Any] | None:
    rows = await _rows(tx, "WHERE id = %s", (tier_id,))
    return admin_shape(rows[0]) if rows else None


async def find_public(tx: Session, tier_id: str | None, language: str) -> dict[str, Any] | None:
    if tier_id is None:
        return None
    rows = await _rows(tx, "WHERE id = %s", (tier_id,))
    return public_shape(rows[0], language) if rows else None


async def set_translations(tx: Session, tier_id: str, translations: dict[str, dict[str, Any]]) -> None:
    await upsert_translations(tx, "tier_translations", "tier_id", tier_id, translations, TEXT_FIELDS)


async def bus_payload(tx: Session, tier_id: str) -> dict[str, Any]:
    """`membership.tier.updated`: id, amount and every language's texts (English filling gaps)."""
    rows = await _rows(tx, "WHERE id = %s", (tier_id,))
    row = rows[0]
    english = in_language(row["translations"], "en", TEXT_FIELDS, _base(row))
    return {
        "id": row["id"],
        "amount_cents": row["amount_cents"],
        "translations": with_fallback(english, row["translations"]),
    }


async def save_campaign(tx: Session, campaign_id: str, url: str | None, patron_count: int | None) -> None:
    await tx.execute(
        "INSERT INTO campaign (id, url, patron_count, synced_at) VALUES (%s, %s, %s, %s)"
        " ON DUPLICATE KEY UPDATE url = VALUES(url), patron_count = VALUES(patron_count),"
        " synced_at = VALUES(synced_at)",
        (campaign_id, url, patron_count, utc_now()),
    )


async def campaign_url(tx: Session) -> str | None:
    return await tx.fetch_value("SELECT url FROM campaign ORDER BY synced_at DESC LIMIT 1")
