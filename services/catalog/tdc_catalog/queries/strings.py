"""SQL for UI strings: a key's English text and its translations."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import TranslatedTable

STRINGS = TranslatedTable(
    "i18n_strings",
    "i18n_string_translations",
    "string_id",
    ("id", "string_key", "text", "description", "created_at", "updated_at"),
    ("text",),
)


async def flat_map(tx: Session, lang: str) -> dict[str, str]:
    rows = await tx.fetch_all(
        "SELECT s.string_key, COALESCE(NULLIF(t.text, ''), s.text) AS text FROM i18n_strings s "
        "LEFT JOIN i18n_string_translations t ON t.string_id = s.id AND t.language = %s ORDER BY s.string_key",
        (lang,),
    )
    return {r["string_key"]: r["text"] for r in rows}


async def counts(tx: Session) -> dict[str, int]:
    total = int(await tx.fetch_value("SELECT COUNT(*) FROM i18n_strings") or 0)
    rows = await tx.fetch_all(
        "SELECT language, COUNT(*) AS n FROM i18n_string_translations "
        "WHERE text IS NOT NULL AND text <> '' GROUP BY language"
    )
    out = {r["language"]: int(r["n"]) for r in rows}
    out["en"] = total
    return out


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "key": row["string_key"],
        "text": row["text"],
        "description": row["description"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "translations": row["translations"],
    }


async def find_admin(tx: Session, string_id: int) -> dict[str, Any] | None:
    row = await STRINGS.find_admin(tx, string_id)
    return _shape(row) if row else None


async def list_admin(tx: Session, prefix: str | None) -> list[dict[str, Any]]:
    if not prefix:
        return [_shape(r) for r in await STRINGS.admin_rows(tx, "ORDER BY string_key")]
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [_shape(r) for r in await STRINGS.admin_rows(tx, "WHERE string_key LIKE %s ORDER BY string_key", (pattern,))]


async def key_taken(tx: Session, key: str, string_id: int | None = None) -> bool:
    found = await tx.fetch_value("SELECT id FROM i18n_strings WHERE string_key = %s", (key,))
    return found is not None and found != string_id


async def create(tx: Session, key: str, text: str, description: str | None) -> int:
    return await tx.execute(
        "INSERT INTO i18n_strings (string_key, text, description) VALUES (%s, %s, %s)", (key, text, description)
    )


async def update(tx: Session, string_id: int, changes: dict[str, Any]) -> None:
    if "key" in changes:
        changes = {("string_key" if k == "key" else k): v for k, v in changes.items()}
    await STRINGS.update(tx, string_id, changes)


set_translations = STRINGS.set_translations
delete = STRINGS.delete
