"""`GET/PUT /api/v1/user/notifications/preferences`: what the caller wants to be mailed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tdc_shared.auth import CurrentUser
from tdc_shared.db import Session
from tdc_shared.envelope import Unprocessable, ok

from .. import reminders
from ..deps import Db, Notify
from ..queries import catalog, preferences

router = APIRouter(prefix="/api/v1/user/notifications", tags=["notification preferences"])

SlugText = Annotated[str, Field(min_length=1, max_length=191)]


class PreferencesBody(BaseModel):
    """Fields left out keep their current value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_reminders": True,
                    "reminder_hours_before": 3,
                    "favourite_locations": ["nebula-dome", "crystal-grotto"],
                    "favourite_artists": ["luna-vox"],
                    "newsletter": True,
                    "language": "it",
                }
            ]
        },
    )

    event_reminders: bool | None = None
    reminder_hours_before: int | None = Field(None, ge=1, le=168, description="1 to 168 hours")
    favourite_locations: list[SlugText] | None = Field(None, max_length=100, description="Location slugs")
    favourite_artists: list[SlugText] | None = Field(None, max_length=100, description="Artist slugs")
    newsletter: bool | None = None
    language: Literal["en", "it", "fr", "es"] | None = None


@router.get("/preferences", summary="My notification preferences")
async def get_preferences(claims: CurrentUser, db: Db) -> JSONResponse:
    async with db.session() as s:
        return ok(await preferences.get(s, claims.user_id))


async def _ids(tx: Session, entity: str, slugs: list[str], field: str, errors: dict[str, list[str]]) -> list[int]:
    wanted = list(dict.fromkeys(s.strip() for s in slugs))
    found = await catalog.ids_for_slugs(tx, entity, wanted)
    unknown = [s for s in wanted if s not in found]
    if unknown:
        errors[field] = [f"unknown {entity}: {', '.join(unknown)}"]
    return [found[s] for s in wanted if s in found]


@router.put("/preferences", summary="Change my notification preferences")
async def put_preferences(body: PreferencesBody, claims: CurrentUser, db: Db, notifier: Notify) -> JSONResponse:
    async with db.transaction() as tx:
        current = await preferences.get(tx, claims.user_id)
        errors: dict[str, list[str]] = {}
        locations = await _ids(
            tx,
            "location",
            body.favourite_locations if body.favourite_locations is not None else current["favourite_locations"],
            "favourite_locations",
            errors,
        )
        artists = await _ids(
            tx,
            "artist",
            body.favourite_artists if body.favourite_artists is not None else current["favourite_artists"],
            "favourite_artists",
            errors,
        )
        if errors:
            raise Unprocessable(errors=errors)
        fields = body.model_fields_set
        await preferences.put(
            tx,
            claims.user_id,
            event_reminders=body.event_reminders if body.event_reminders is not None else current["event_reminders"],
            reminder_hours_before=body.reminder_hours_before or current["reminder_hours_before"],
            newsletter=body.newsletter if body.newsletter is not None else current["newsletter"],
            language=body.language if "language" in fields else current["language"],
            location_ids=locations,
            artist_ids=artists,
        )
        await reminders.reader_changed(tx, notifier, claims.user_id)
        return ok(await preferences.get(tx, claims.user_id))
