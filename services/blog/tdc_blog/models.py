"""Request bodies. `extra="forbid"` everywhere: an unknown field is a 422, so nothing can be
mass-assigned. Update bodies have every field optional; only the fields sent change."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from tdc_shared.translations import Language

from .access import Visibility

# Markdown sources above this are refused with a field error (a MEDIUMTEXT would take 16 MiB).
MAX_MARKDOWN_CHARS = 100_000

Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
PostSlug = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Excerpt = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Markdown = Annotated[str, StringConstraints(max_length=MAX_MARKDOWN_CHARS)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)]
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
AuthorName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# The catalog serves images at /api/v1/media/<id>[/<variant>]; a full URL to it (any host, since
# a CDN may front it) or that path. The blog stores the reference and never the image.
CoverUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=500,
        pattern=r"^(https?://[^\s/]+)?/api/v1/media/[0-9]+(/(thumb|medium|large))?$",
    ),
]
Cents = Annotated[int, Field(ge=1, le=10_000_000)]
SortOrder = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]

_ISO_DATE_TIME = re.compile(r"\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    # Pydantic would also read a number as Unix seconds: only ISO 8601 text is a time here.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time, such as 2031-09-05T20:00:00Z")


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- posts -------------------------------------------------------------------------------------


class PostText(Body):
    title: Title | None = None
    # The teaser: the only text of a gated post that readers without access receive.
    excerpt: Excerpt | None = None
    body: Markdown | None = None


class PostUpdate(PostText):
    """The fields of a post to change; the others keep their value (English texts included)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Winter lineup at the Nebula Dome",
                    "visibility": "tier",
                    "required_cents": 1000,
                    "tags": ["techno", "community"],
                }
            ]
        },
    )

    slug: PostSlug | None = None
    visibility: Visibility | None = None
    # For visibility "tier": the smallest pledge, in cents, that opens the post.
    required_cents: Cents | None = None
    category_id: Annotated[int, Field(gt=0)] | None = None
    tags: Annotated[list[Slug], Field(max_length=20)] | None = None
    cover_url: CoverUrl | None = None
    author_name: AuthorName | None = None


class PostCreate(PostUpdate):
    """A new post in English, saved as a draft until it is published; body is Markdown."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "winter-lineup",
                    "title": "Winter lineup",
                    "excerpt": "Luna Vox and DJ Aurora Skye take over the Nebula Dome every Friday in December.",
                    "body": "## Fridays at the Nebula Dome\n\nDoors open at **1 pm SLT**; Luna Vox plays deep house "
                    "until 3, then Aurora Skye closes with melodic techno.",
                    "visibility": "public",
                    "category_id": 2,
                    "tags": ["techno", "community"],
                    "cover_url": "/api/v1/media/12/large",
                    "author_name": "Aria Moon",
                }
            ]
        },
    )

    slug: PostSlug
    title: Title
    body: Markdown = ""
    visibility: Visibility = "public"


class PostTranslations(Body):
    """A post's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "translations": {
                        "it": {
                            "title": "Il programma d'inverno",
                            "excerpt": "Luna Vox e DJ Aurora Skye al Nebula Dome ogni venerdì di dicembre.",
                        },
                        "fr": {"title": "La programmation d'hiver"},
                        "es": {"title": "La programación de invierno"},
                    }
                }
            ]
        },
    )

    translations: dict[Language, PostText]


class PublishRequest(Body):
    """When to publish: no body, or no publish_at, publishes now; a future time schedules it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"publish_at": "2031-12-05T18:00:00Z"}]})

    # Absent or in the past: publish now. A time without an offset is UTC.
    publish_at: IsoDateTime | None = None


# -- categories and tags -----------------------------------------------------------------------


class CategoryText(Body):
    name: Name | None = None
    description: Text | None = None


class CategoryUpdate(CategoryText):
    """The fields of a category to change; the others keep their value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Club news", "sort_order": 10}]})

    slug: Slug | None = None
    sort_order: SortOrder | None = None


class CategoryCreate(CategoryUpdate):
    """A new category: slug and English name, the rest optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "club-news",
                    "name": "Club news",
                    "description": "Openings, new venues and what changes at the Cave.",
                    "sort_order": 10,
                }
            ]
        },
    )

    slug: Slug
    name: Name


class CategoryTranslations(Body):
    """A category's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "translations": {
                        "it": {"name": "Notizie dal club"},
                        "fr": {"name": "Nouvelles du club"},
                        "es": {"name": "Noticias del club"},
                    }
                }
            ]
        },
    )

    translations: dict[Language, CategoryText]


class TagText(Body):
    name: TagName | None = None


class TagUpdate(TagText):
    """The fields of a tag to change; the others keep their value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Melodic techno"}]})

    slug: Slug | None = None


class TagCreate(TagUpdate):
    """A new tag: slug and English name."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"slug": "ambient", "name": "Ambient"}]})

    slug: Slug
    name: TagName


class TagTranslations(Body):
    """A tag's name by language; a language not sent keeps its name, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"translations": {"it": {"name": "Ambient"}, "fr": {"name": "Ambiant"}, "es": {"name": "Ambiental"}}}
            ]
        },
    )

    translations: dict[Language, TagText]
