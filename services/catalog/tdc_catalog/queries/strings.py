"""SQL for UI strings: a key's English text and its translations."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session

from .common import iso_utc, load_translations, update_row, upsert_translations


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
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


async def find_admin(tx: Session, string_id: int) -> dict[str, Any] | None:
    row = await tx.fetch_one(
        "SELECT id, string_key, text, description, created_at, updated_at FROM i18n_strings WHERE id = %s",
        (string_id,),
    )
    if row is None:
        return None
    shaped = _shape(row)
    translations = await load_translations(tx, "i18n_string_translations", "string_id", [string_id], ("text",))
    shaped["translations"] = translations.get(string_id, {})
    return shaped


async def list_admin(tx: Session, prefix: str | None) -> list[dict[str, Any]]:
    params: tuple[Any, ...] = ()
    where = ""
    if prefix:
        where = " WHERE s.string_key LIKE %s"
        params = (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",)
    rows = await tx.fetch_all(
        f"SELECT id, string_key, text, description, created_at, updated_at FROM i18n_strings s{where} "
        "ORDER BY string_key",
        params,
    )
    translations = await load_translations(
        tx, "i18n_string_translations", "string_id", [r["id"] for r in rows], ("text",)
    )
    return [{**_shape(r), "translations": translations.get(r["id"], {})} for r in rows]


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
    await update_row(tx, "i18n_strings", string_id, changes)


async def set_translations(tx: Session, string_id: int, translations: dict[str, dict[str, Any]]) -> None:
    english = translations.pop("en", None)
    if english:
        await update_row(tx, "i18n_strings", string_id, english)
    await upsert_translations(tx, "i18n_string_translations", "string_id", string_id, translations)


async def delete(tx: Session, string_id: int) -> None:
    await tx.execute("DELETE FROM i18n_strings WHERE id = %s", (string_id,))
