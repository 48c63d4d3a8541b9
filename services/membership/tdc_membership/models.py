"""Request bodies. `extra="forbid"` everywhere: an unknown field is a 422."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Language = Literal["en", "it", "fr", "es"]
# A row id in a path: positive and within BIGINT, so no value reaches MySQL that it cannot hold.
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Kind = Literal["post", "video", "audio", "download"]
TierId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w-]+$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Summary = Annotated[str, StringConstraints(max_length=500)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https://[^\s]+$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WallChoice(Body):
    show: bool
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    show_tier: bool = False


class TierText(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = None
    description: Text | None = None
    benefits: Text | None = None


class TierTranslations(Body):
    translations: dict[Language, TierText]


class ItemText(Body):
    title: Title | None = None
    summary: Summary | None = None
    body: Text | None = None


class ItemUpdate(ItemText):
    kind: Kind | None = None
    url: Url | None = None
    required_tier_id: TierId | None = None
    is_published: bool | None = None
    sort_order: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] | None = None


class ItemCreate(ItemUpdate):
    kind: Kind
    title: Title


class ItemTranslations(Body):
    translations: dict[Language, ItemText]
