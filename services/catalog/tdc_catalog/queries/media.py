"""SQL for media rows (the files themselves live on disk, see routes/media.py)."""

from __future__ import annotations

import json
from typing import Any

from tdc_shared.db import Session

from .common import image_of, iso_utc

_FIELDS = (
    "id, storage_key, original_filename, content_type, extension, width, height, bytes, variants, alt_text, created_at"
)


def to_admin(row: dict[str, Any]) -> dict[str, Any]:
    sizes = json.loads(row["variants"])
    image = image_of(row["id"])
    assert image is not None
    return {
        **image,
        "content_type": row["content_type"],
        "width": row["width"],
        "height": row["height"],
        "bytes": row["bytes"],
        "original_filename": row["original_filename"],
        "alt_text": row["alt_text"],
        "sizes": {name: {"width": w, "height": h} for name, (w, h) in sizes.items()},
        "created_at": iso_utc(row["created_at"]),
    }


async def find(tx: Session, media_id: int) -> dict[str, Any] | None:
    return await tx.fetch_one(f"SELECT {_FIELDS} FROM media WHERE id = %s", (media_id,))  # noqa: S608 - column list is the constant _FIELDS


async def list_page(tx: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = await tx.fetch_value("SELECT COUNT(*) FROM media")
    rows = await tx.fetch_all(f"SELECT {_FIELDS} FROM media ORDER BY id DESC LIMIT %s OFFSET %s", (limit, offset))  # noqa: S608 - column list is the constant _FIELDS
    return [to_admin(r) for r in rows], int(total or 0)


async def create(tx: Session, values: dict[str, Any]) -> int:
    return await tx.execute(
        "INSERT INTO media (storage_key, original_filename, content_type, extension, width, height, bytes, "
        "variants, alt_text, uploaded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            values["storage_key"],
            values["original_filename"],
            values["content_type"],
            values["extension"],
            values["width"],
            values["height"],
            values["bytes"],
            json.dumps(values["variants"]),
            values["alt_text"],
            values["uploaded_by"],
        ),
    )


async def delete(tx: Session, media_id: int) -> None:
    await tx.execute("DELETE FROM media WHERE id = %s", (media_id,))
