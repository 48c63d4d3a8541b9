"""/api/v1/sl: what in-world objects call, each request signed with the object's secret.

Bodies are compact JSON sent as LSL's default `text/plain;charset=utf-8` (or
`application/json`); answers are the compact envelope, always under 2,048 bytes.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tdc_shared.envelope import ApiError, Conflict, NotFound, Unprocessable, ok
from tdc_shared.events import publish
from tdc_shared.i18n import negotiate_language
from tdc_shared.openapi import raw_body

from ..deps import Db, Settings
from ..queries import events as event_queries
from ..queries import sl as sl_queries
from ..sl import board
from ..sl.cache import BoardCache, forget_boards
from ..sl.lsl import SIGNING
from ..sl.signing import BoardObject, CheckinObject, CounterObject, LinkerObject
from ..timefmt import iso_utc, utc_now

router = APIRouter(prefix="/api/v1/sl", tags=["second life"])


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Check-ins are taken from a little before the doors open until the event ends.
CHECKIN_EARLY = timedelta(hours=2)
# The body is read as bytes (the signature covers them exactly), so OpenAPI is told its shape.
LSL_BODY = ("text/plain", "application/json")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Checkin(Strict):
    """Who checks in for which event: the event's slug and the avatar's key and name, as JSON
    (LSL's `llList2Json`). The event must be at the object's venue and about to start or on."""

    model_config = ConfigDict(  # merged with Strict's
        json_schema_extra={
            "examples": [
                {
                    "event": "winter-ball",
                    "avatar_key": "6f3b2c1e-8d4a-4b7e-9f21-3c5d7a9e0b42",
                    "avatar_name": "Luna Vox",
                }
            ]
        },
    )

    event: str = Field(min_length=1, max_length=191, pattern=SLUG_PATTERN)
    avatar_key: str = Field(pattern=UUID_PATTERN)
    avatar_name: str = Field(min_length=1, max_length=63)


class Visitors(Strict):
    """How many avatars the counter sees now; location, if sent, must be the object's own venue."""

    model_config = ConfigDict(  # merged with Strict's
        json_schema_extra={"examples": [{"count": 42, "location": "nebula-dome"}]},
    )

    count: int = Field(ge=0, le=10_000)
    location: str | None = Field(default=None, max_length=191, pattern=SLUG_PATTERN)


class Link(Strict):
    """The one-time code the website showed (dashes and case do not matter) and the avatar typing it."""

    model_config = ConfigDict(  # merged with Strict's
        json_schema_extra={
            "examples": [
                {"code": "K7QPM-X4RTN", "avatar_key": "6f3b2c1e-8d4a-4b7e-9f21-3c5d7a9e0b42", "avatar_name": "Luna Vox"}
            ]
        },
    )

    code: str = Field(min_length=4, max_length=32)
    avatar_key: str = Field(pattern=UUID_PATTERN)
    avatar_name: str = Field(min_length=1, max_length=63)


class UnsupportedBody(ApiError):
    status, message = 415, "send text/plain or application/json"


Body = TypeVar("Body", bound=Strict)


def parse(request: Request, body: bytes, model: type[Body]) -> Body:
    content_type = request.headers.get("content-type", "text/plain;charset=utf-8").lower()
    media, _, params = content_type.partition(";")
    if media.strip() not in ("text/plain", "application/json"):
        raise UnsupportedBody()
    charset = re.search(r"charset=\"?([\w-]+)", params)
    if charset and charset.group(1) not in ("utf-8", "utf8"):
        raise UnsupportedBody("send UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedBody("send UTF-8") from None
    try:
        return model.model_validate_json(text or "{}")
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            key = ".".join(str(p) for p in err.get("loc", ())) or "body"
            message = "unknown field" if err.get("type") == "extra_forbidden" else str(err.get("msg", "invalid"))
            errors.setdefault(key, []).append(message[:60])
        raise Unprocessable("bad body", errors=errors) from None


def code_hash(code: str) -> str:
    """The contract with auth: SHA-256 (hex) of the code with spaces and dashes removed, upper case."""
    normal = re.sub(r"[\s-]+", "", code).upper()
    return hashlib.sha256(normal.encode()).hexdigest()


@router.get(
    "/board", summary="Now and next at a location, in Second Life time (signed, purpose board)", description=SIGNING
)
async def read_board(
    request: Request,
    signed: BoardObject,
    db: Db,
    settings: Settings,
    location: Annotated[str | None, Query(max_length=191, pattern=SLUG_PATTERN)] = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
    output: Annotated[Literal["json", "text"], Query(alias="format")] = "json",
) -> Response:
    language = negotiate_language(lang, request.headers.get("accept-language"))
    where = location or signed.location
    media = "text/plain; charset=utf-8" if output == "text" else "application/json"
    cache: BoardCache = request.app.state.board_cache
    key = (where, language, output)
    cached = cache.get(key)
    if cached is not None:
        return Response(cached, media_type=media)
    now = utc_now()
    async with db.session() as s:
        rows = await event_queries.at_location(s, where, now, settings.integration_sl_board_items)
    items = [board.item(r, language, now, bool(r["live"])) for r in rows]
    limit = settings.integration_sl_body_limit
    body = board.fit_text(items, limit) if output == "text" else board.fit_json(where, items, limit)
    cache.put(key, body)
    return Response(body, media_type=media)


@router.post(
    "/checkin",
    summary="A DJ or host checks in at the venue (signed, purpose checkin)",
    description=SIGNING,
    openapi_extra=raw_body(Checkin, LSL_BODY),
)
async def checkin(request: Request, signed: CheckinObject, db: Db) -> JSONResponse:
    body = parse(request, signed.body, Checkin)
    now = utc_now()
    async with db.transaction() as tx:
        event = await event_queries.find_by_slug(tx, body.event)
        if event is None or event["status"] == "deleted":
            raise NotFound("no such event")
        if event["location_slug"] != signed.location:
            raise Conflict("event is at another venue")
        if event["status"] != "published":
            raise Conflict("event is cancelled")
        if event["end_utc"] is not None and event["end_utc"] <= now:
            raise Conflict("event is over")
        if event["start_utc"] is not None and event["start_utc"] - CHECKIN_EARLY > now:
            raise Conflict("too early to check in")
        values = {
            "object_id": signed.id,
            "catalog_id": int(event["catalog_id"]),
            "event_slug": event["slug"],
            "location": signed.location,
            "avatar_key": body.avatar_key.lower(),
            "avatar_name": body.avatar_name,
            "checked_in_at": now,
        }
        await sl_queries.add_checkin(tx, values)
        tx.after_commit(forget_boards)
        await publish(
            tx,
            "integration.sl.checked_in",
            {
                "event_id": values["catalog_id"],
                "event_slug": values["event_slug"],
                "location": values["location"],
                "avatar_key": values["avatar_key"],
                "avatar_name": values["avatar_name"],
                "checked_in_at": iso_utc(now),
            },
            source="integration",
        )
    return ok({"event": event["slug"], "live": True, "checked_in_at": iso_utc(now)})


@router.post(
    "/visitors",
    summary="A counter reports how many avatars are present (signed, purpose counter)",
    description=SIGNING,
    openapi_extra=raw_body(Visitors, LSL_BODY),
)
async def visitors(request: Request, signed: CounterObject, db: Db) -> JSONResponse:
    body = parse(request, signed.body, Visitors)
    if body.location is not None and body.location != signed.location:
        raise Unprocessable("bad body", errors={"location": ["not where this object stands"]})
    async with db.transaction() as tx:
        await sl_queries.add_visitors(tx, signed.id, signed.location, body.count)
    return ok({"location": signed.location, "count": body.count})


@router.post(
    "/link",
    summary="Link an avatar to an account with a one-time code (signed, purpose linker)",
    description=SIGNING,
    openapi_extra=raw_body(Link, LSL_BODY),
)
async def link(request: Request, signed: LinkerObject, db: Db) -> JSONResponse:
    body = parse(request, signed.body, Link)
    now = utc_now()
    async with db.transaction() as tx:
        code = await sl_queries.find_code(tx, code_hash(body.code))
        if code is None:
            raise NotFound("unknown code")
        if code["used_at"] is not None:
            raise Conflict("code already used")
        if code["expires_at"] <= now:
            raise ApiError("code expired", status=410)
        await sl_queries.use_code(tx, code["code_hash"], body.avatar_key.lower())
        await publish(
            tx,
            "integration.sl.avatar_linked",
            {
                "user_id": int(code["user_id"]),
                "avatar_key": body.avatar_key.lower(),
                "avatar_name": body.avatar_name,
                "linked_at": iso_utc(now),
            },
            source="integration",
        )
    return ok({"linked": True, "avatar_name": body.avatar_name})
