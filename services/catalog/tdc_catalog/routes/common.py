"""What the routes share: load-or-404 and the slug/image checks of staff writes, the event-list answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

from tdc_shared.db import Session
from tdc_shared.envelope import NotFound
from tdc_shared.pagination import ListRequest, listed
from tdc_shared.translations import ensure_slug_free

from ..queries.common import ensure_exists
from ..queries.events import EventList

Finder = Callable[[Session, int], Awaitable[dict[str, Any] | None]]


async def load_or_404(s: Session, find: Finder, row_id: int, what: str) -> dict[str, Any]:
    row = await find(s, row_id)
    if row is None:
        raise NotFound(f"{what} not found")
    return row


async def check_references(tx: Session, table: str, values: Mapping[str, Any], row_id: int | None = None) -> None:
    """A slug sent must be free and an image sent must exist, else a 422 on that field."""
    if "slug" in values:
        await ensure_slug_free(tx, table, values["slug"], row_id)
    await ensure_exists(tx, "media", values.get("image_media_id"), "image_media_id")


def event_list(found: EventList, page: ListRequest) -> JSONResponse:
    """An event list's answer: the items and `meta.pagination` (capped total, next cursor)."""
    return listed(
        found.items,
        page,
        total=found.total,
        total_exact=found.total_exact,
        has_more=found.has_more,
        next_cursor=found.next_cursor,
    )
