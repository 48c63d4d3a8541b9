"""Request bodies. `extra="forbid"` everywhere: an unknown field is a 422, so nothing can be
mass-assigned. Update bodies have every field optional; only the fields sent change."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from tdc_shared.translations import Language

MoodCategory = Literal["cosmic_tech", "warm_intimate", "hybrid"]

Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
Color = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^#[0-9a-fA-F]{6}$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s]+$")]
SlUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^(https?://|secondlife://)[^\s]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)]
Line = Annotated[str, StringConstraints(max_length=255)]
# TEXT columns hold 65,535 bytes: 10,000 characters of 4-byte UTF-8 still fit.
Text = Annotated[str, StringConstraints(max_length=10_000)]
SortOrder = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
MediaId = Annotated[int, Field(gt=0)]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder such as "America"
        raise ValueError("unknown time zone (use an IANA name such as America/Los_Angeles)") from exc
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_known_zone)]


_ISO_DATE_TIME = re.compile(r"\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    # Pydantic would also read a number ("0.5", 1700000000) as Unix seconds: a client sending
    # one almost surely meant something else, so only ISO 8601 text is a time here.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time, such as 2031-09-05T20:00:00")


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]


def _plausible_time(value: datetime) -> datetime:
    # Far outside this range a time is a typo, and near year 1 or 9999 the zone shift overflows.
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


EventTime = Annotated[IsoDateTime, AfterValidator(_plausible_time)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- locations ---------------------------------------------------------------------------------


class LocationText(Body):
    name: Name | None = None
    tagline: Line | None = None
    description: Text | None = None
    architecture_notes: Text | None = None
    atmosphere_notes: Text | None = None


class LocationUpdate(LocationText):
    """The fields of a venue to change; the others keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tagline": "Dance under the stars", "capacity": 120, "is_active": True}]},
    )

    slug: Slug | None = None
    capacity: Annotated[int, Field(gt=0, le=100_000)] | None = None
    slurl: SlUrl | None = None
    sort_order: SortOrder | None = None
    is_active: bool | None = None
    mood_category: MoodCategory | None = None
    primary_color: Color | None = None
    secondary_color: Color | None = None
    accent_color: Color | None = None
    dark_color: Color | None = None
    css_gradient: Annotated[str, StringConstraints(max_length=500)] | None = None
    mood_keywords: (
        Annotated[
            list[
                Annotated[
                    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[^,]+$")
                ]
            ],
            Field(max_length=10),
        ]
        | None
    ) = None
    image_media_id: MediaId | None = None


class LocationCreate(LocationUpdate):
    """A new venue: slug, English name and mood category, the rest optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "nebula-dome",
                    "name": "Nebula Dome",
                    "mood_category": "cosmic_tech",
                    "capacity": 80,
                    "primary_color": "#1b1f4b",
                    "tagline": "Dance under the stars",
                }
            ]
        },
    )

    slug: Slug
    name: Name
    mood_category: MoodCategory
    capacity: Annotated[int, Field(gt=0, le=100_000)] = 100


class LocationTranslations(Body):
    """A venue's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "translations": {
                        "it": {"tagline": "Balla sotto le stelle"},
                        "fr": {"tagline": "Dansez sous les étoiles"},
                    }
                }
            ]
        },
    )

    translations: dict[Language, LocationText]


# -- artists -----------------------------------------------------------------------------------


class ArtistText(Body):
    tagline: Line | None = None
    bio: Text | None = None


class ArtistUpdate(ArtistText):
    """The fields of an artist to change; the others keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"genre": "Deep house", "soundcloud_url": "https://soundcloud.com/luna-vox"}]},
    )

    slug: Slug | None = None
    name: Name | None = None
    genre: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    website_url: Url | None = None
    soundcloud_url: Url | None = None
    mixcloud_url: Url | None = None
    sl_avatar_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    image_media_id: MediaId | None = None
    sort_order: SortOrder | None = None
    is_active: bool | None = None


class ArtistCreate(ArtistUpdate):
    """A new artist: slug and name, the rest optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "luna-vox",
                    "name": "Luna Vox",
                    "genre": "Deep house",
                    "tagline": "Velvet beats after midnight",
                }
            ]
        },
    )

    slug: Slug
    name: Name


class ArtistTranslations(Body):
    """An artist's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"translations": {"it": {"tagline": "Ritmi di velluto dopo mezzanotte"}}}]},
    )

    translations: dict[Language, ArtistText]


# -- events ------------------------------------------------------------------------------------


class EventText(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    subtitle: Line | None = None
    description: Text | None = None


class EventUpdate(EventText):
    """The fields of an event to change; times without an offset are in the event's time zone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"start": "2031-09-05T21:00:00", "end": "2031-09-06T00:00:00", "is_featured": True}]
        },
    )

    slug: Slug | None = None
    # A time without an offset is read in the event's own time zone.
    start: EventTime | None = None
    end: EventTime | None = None
    timezone: TimeZoneName | None = None
    location_id: Annotated[int, Field(gt=0)] | None = None
    image_media_id: MediaId | None = None
    is_featured: bool | None = None


class EventCreate(EventUpdate):
    """A new event, saved as a draft until it is published."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "starfall",
                    "title": "Starfall",
                    "start": "2031-09-05T20:00:00",
                    "end": "2031-09-05T23:00:00",
                    "timezone": "America/Los_Angeles",
                    "location_id": 1,
                }
            ]
        },
    )

    slug: Slug


class EventTranslations(Body):
    """An event's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"translations": {"it": {"title": "Pioggia di stelle"}, "es": {"title": "Lluvia de estrellas"}}}
            ]
        },
    )

    translations: dict[Language, EventText]


class LineupSlot(Body):
    artist_id: Annotated[int, Field(gt=0)]
    set_start: EventTime | None = None
    set_end: EventTime | None = None


class Lineup(Body):
    """The whole lineup in running order (replaces the previous one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lineup": [
                        {"artist_id": 3, "set_start": "2031-09-05T20:00:00"},
                        {"artist_id": 5, "set_start": "2031-09-05T21:30:00"},
                    ]
                }
            ]
        },
    )

    lineup: Annotated[list[LineupSlot], Field(max_length=50)]


# -- staff -------------------------------------------------------------------------------------


class StaffText(Body):
    role_title: Annotated[str, StringConstraints(max_length=150)] | None = None
    bio: Text | None = None


class StaffUpdate(StaffText):
    """The fields of a staff profile to change; the others keep their value."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role_title": "Host", "is_active": True}]}
    )

    slug: Slug | None = None
    name: Name | None = None
    sl_avatar_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    image_media_id: MediaId | None = None
    sort_order: SortOrder | None = None
    is_active: bool | None = None


class StaffCreate(StaffUpdate):
    """A new staff profile: slug and name, the rest optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"slug": "aria-moon", "name": "Aria Moon", "role_title": "Host", "sl_avatar_name": "AriaMoon Resident"}
            ]
        },
    )

    slug: Slug
    name: Name


class StaffTranslations(Body):
    """A staff profile's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"translations": {"fr": {"role_title": "Hôtesse"}}}]}
    )

    translations: dict[Language, StaffText]


# -- UI strings --------------------------------------------------------------------------------

StringKey = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)*$"
    ),
]


class StringText(Body):
    text: Annotated[str, StringConstraints(max_length=5000)] | None = None


class StringUpdate(StringText):
    """The fields of a UI string to change; the others keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Tonight at the Cave", "description": "Home page heading"}]},
    )

    key: StringKey | None = None
    description: Line | None = None


class StringCreate(StringUpdate):
    """A new UI string: its key and English text."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"key": "home.heading", "text": "Tonight at the Cave", "description": "Home page heading"}]
        },
    )

    key: StringKey
    text: Annotated[str, StringConstraints(max_length=5000)]


class StringTranslations(Body):
    """A UI string's text by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"translations": {"it": {"text": "Stasera alla Cave"}, "es": {"text": "Esta noche en la Cave"}}}
            ]
        },
    )

    translations: dict[Language, StringText]
