"""/api/v1/admin/events: drafts, texts, lineups, publishing and cancelling (staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import Conflict, NotFound, Unprocessable, created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.i18n import Lang
from tdc_shared.pagination import ListPagination
from tdc_shared.translations import changes_of, translations_of

from ..deps import Db, invalidate_on_commit, write_transaction
from ..models import EventCreate, EventTranslations, EventUpdate, Lineup
from ..queries import admin_events as queries
from ..queries import checkins as checkin_queries
from ..queries import summary as summary_queries
from ..queries.common import ensure_exists
from ..queries.events import MAX_EVENT_DURATION, to_utc
from .common import check_references, event_list

router = APIRouter(prefix="/api/v1/admin/events", tags=["admin: events"])

NOT_NULL = ("slug", "timezone", "is_featured")
REQUIRED_TO_PUBLISH = {"title": "title", "start_utc": "start", "end_utc": "end", "location_id": "location_id"}


async def _row(tx: Session, event_id: int) -> dict[str, Any]:
    row = await queries.find_row(tx, event_id, lock=True)
    if row is None:
        raise NotFound("Event not found")
    return row


def _check_transition(row: dict[str, Any], status: str) -> None:
    if status not in queries.TRANSITIONS[row["status"]]:
        raise Conflict(f"A {row['status']} event cannot be {status}")


def _missing_for_publish(row: dict[str, Any]) -> dict[str, list[str]]:
    return {field: ["required to publish"] for column, field in REQUIRED_TO_PUBLISH.items() if not row.get(column)}


async def _changed(request: Request, tx: Session, event_id: int, transition: str | None = None) -> dict[str, Any]:
    """Count a revision, tell the bus if the public can see the event, clear caches on commit."""
    await queries.bump_sequence(tx, event_id)
    await queries.sync_derived(tx, event_id)
    status = await tx.fetch_value("SELECT status FROM events WHERE id = %s", (event_id,))
    # Literal event types at each call, so the event-catalog scan checks them.
    if transition == "published":
        await publish(tx, "catalog.event.published", await queries.bus_payload(tx, event_id), source="catalog")
    elif transition == "cancelled":
        await publish(tx, "catalog.event.cancelled", await queries.bus_payload(tx, event_id), source="catalog")
    elif status != "draft":
        await publish(tx, "catalog.event.updated", await queries.bus_payload(tx, event_id), source="catalog")
    invalidate_on_commit(request, tx)
    event = await queries.find_admin(tx, event_id)
    assert event is not None
    return event


def _columns(changes: dict[str, Any], zone: str) -> dict[str, Any]:
    columns = dict(changes)
    for name in ("start", "end"):
        if name in columns:
            value = columns.pop(name)
            columns[f"{name}_utc"] = to_utc(value, zone) if value is not None else None
    return columns


def _check_times(row: dict[str, Any]) -> None:
    if row.get("start_utc") and row.get("end_utc"):
        if row["end_utc"] <= row["start_utc"]:
            raise Unprocessable(errors={"end": ["must be after start"]})
        # Lists find "not ended yet" through the start index by this bound (queries/events.py).
        if row["end_utc"] - row["start_utc"] > MAX_EVENT_DURATION:
            raise Unprocessable(errors={"end": [f"an event lasts at most {MAX_EVENT_DURATION.days} days"]})


@router.get("", summary="Every event, drafts included, newest start first (drafts without a start last)")
async def admin_list(
    db: Db,
    page: ListPagination,
    _: StaffUser,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(queries.TRANSITIONS)})] = None,
) -> JSONResponse:
    if status is not None and status not in queries.TRANSITIONS:
        raise Unprocessable(errors={"status": ["must be one of draft, published, cancelled"]})
    async with db.session() as s:
        found = await queries.list_admin(s, status, page)
    return event_list(found, page)


# Declared before `/{event_id}`: routes match in order, and "summary" would be a 422 there.
# Under /api/v1/admin/, so the public response cache never keeps it (see cache.py).
@router.get("/summary", summary="Counts and the next published events, for the staff dashboard")
async def admin_summary(db: Db, _: StaffUser, lang: Lang) -> JSONResponse:
    # The role check is declared first so a stranger gets 401/403, never a 422 about `lang`.
    async with db.session() as s:
        summary = await summary_queries.summary(s, lang)
    return ok(summary)


@router.get("/{event_id}", summary="One event with translations and lineup")
async def admin_get(event_id: int, db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        event = await queries.find_admin(s, event_id)
    if event is None:
        raise NotFound("Event not found")
    return ok(event)


@router.get("/{event_id}/checkins", summary="Who checked in at this event from Second Life, and when")
async def admin_checkins(event_id: int, db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        row = await queries.find_row(s, event_id)
        if row is None:
            raise NotFound("Event not found")
        items = await checkin_queries.for_event(s, event_id)
        live = None
        if row["start_utc"] and row["end_utc"]:
            live = await checkin_queries.live(s, event_id, row["start_utc"], row["end_utc"])
    return ok({"event_id": event_id, "live": live, "checkins": items})


@router.post("", status_code=201, summary="Create a draft event")
async def create_event(body: EventCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    zone = values.setdefault("timezone", request.app.state.settings.catalog_default_timezone)
    columns = _columns(values, zone)
    _check_times(columns)
    async with write_transaction(db) as tx:
        await check_references(tx, "events", columns)
        await ensure_exists(tx, "locations", columns.get("location_id"), "location_id")
        event_id = await queries.create(tx, columns)
        await queries.sync_derived(tx, event_id)
        invalidate_on_commit(request, tx)
        event = await queries.find_admin(tx, event_id)
    return created(event)


@router.put("/{event_id}", summary="Change the fields sent")
async def update_event(event_id: int, body: EventUpdate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    changes = changes_of(body, NOT_NULL)
    async with write_transaction(db) as tx:
        row = await _row(tx, event_id)
        columns = _columns(changes, changes.get("timezone") or row["timezone"])
        merged = {**row, **columns}
        _check_times(merged)
        if row["status"] != "draft":
            missing = _missing_for_publish(merged)
            if missing:
                raise Unprocessable("A public event keeps its title, times and location", errors=missing)
        await check_references(tx, "events", columns, event_id)
        await ensure_exists(tx, "locations", columns.get("location_id"), "location_id")
        await queries.update(tx, event_id, columns)
        event = await _changed(request, tx, event_id)
    return ok(event)


@router.put("/{event_id}/translations", summary="Set texts per language")
async def set_translations(
    event_id: int, body: EventTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    translations = translations_of(body)
    async with write_transaction(db) as tx:
        row = await _row(tx, event_id)
        if row["status"] != "draft" and "en" in translations:
            changes_of(body.translations["en"], ("title",))
        await queries.set_translations(tx, event_id, translations)
        event = await _changed(request, tx, event_id)
    return ok(event)


@router.put("/{event_id}/lineup", summary="Replace the lineup (artists in order, with set times)")
async def set_lineup(event_id: int, body: Lineup, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    async with write_transaction(db) as tx:
        row = await _row(tx, event_id)
        slots: list[dict[str, Any]] = []
        errors: dict[str, list[str]] = {}
        seen: set[int] = set()
        for index, slot in enumerate(body.lineup):
            where = f"lineup.{index}"
            if slot.artist_id in seen:
                errors[f"{where}.artist_id"] = ["listed twice"]
            seen.add(slot.artist_id)
            if not await tx.fetch_value("SELECT 1 FROM artists WHERE id = %s", (slot.artist_id,)):
                errors[f"{where}.artist_id"] = [f"no such artist {slot.artist_id}"]
            start = to_utc(slot.set_start, row["timezone"]) if slot.set_start else None
            end = to_utc(slot.set_end, row["timezone"]) if slot.set_end else None
            if start and end and end <= start:
                errors[f"{where}.set_end"] = ["must be after set_start"]
            slots.append({"artist_id": slot.artist_id, "set_start": start, "set_end": end})
        if errors:
            raise Unprocessable(errors=errors)
        await queries.set_lineup(tx, event_id, slots)
        event = await _changed(request, tx, event_id)
    return ok(event)


@router.post("/{event_id}/publish", summary="draft -> published (needs title, start, end and location)")
async def publish_event(event_id: int, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    async with write_transaction(db) as tx:
        row = await _row(tx, event_id)
        _check_transition(row, "published")
        missing = _missing_for_publish(row)
        if missing:
            raise Unprocessable("The event is not ready to publish", errors=missing)
        await queries.move_to(tx, event_id, "published")
        event = await _changed(request, tx, event_id, "published")
    return ok(event)


@router.post("/{event_id}/cancel", summary="published -> cancelled (stays listed, marked cancelled)")
async def cancel_event(event_id: int, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    async with write_transaction(db) as tx:
        _check_transition(await _row(tx, event_id), "cancelled")
        await queries.move_to(tx, event_id, "cancelled")
        event = await _changed(request, tx, event_id, "cancelled")
    return ok(event)


@router.delete("/{event_id}", status_code=204, summary="Delete an event")
async def delete_event(event_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with write_transaction(db) as tx:
        row = await _row(tx, event_id)
        await queries.delete(tx, event_id)
        if row["status"] != "draft":
            data = {"id": event_id, "uid": row["uid"], "slug": row["slug"], "sequence": row["sequence"] + 1}
            await publish(tx, "catalog.event.deleted", data, source="catalog")
        invalidate_on_commit(request, tx)
    return no_content()
