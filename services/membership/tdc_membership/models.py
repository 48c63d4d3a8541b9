"""Request bodies. `extra="forbid"` everywhere: an unknown field is a 422."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tdc_shared.translations import Language

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
    """Whether I appear on the supporters' wall, under which name, and with my tier or not."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"show": True, "display_name": "Luna Vox", "show_tier": True}]},
    )

    show: bool
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    show_tier: bool = False


class TierText(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = None
    description: Text | None = None
    benefits: Text | None = None


class TierTranslations(Body):
    """A tier's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "translations": {
                        "it": {
                            "title": "Nottambulo",
                            "description": "Per i fedelissimi della grotta.",
                            "benefits": "Set esclusivi e download",
                        },
                        "fr": {"title": "Oiseau de nuit", "benefits": "Sets exclusifs et téléchargements"},
                        "es": {"title": "Búho nocturno", "benefits": "Sets exclusivos y descargas"},
                    }
                }
            ]
        },
    )

    translations: dict[Language, TierText]


class ItemText(Body):
    title: Title | None = None
    summary: Summary | None = None
    body: Text | None = None


class ItemUpdate(ItemText):
    """The fields of an exclusive item to change; the others keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"is_published": True, "required_tier_id": "10482913", "sort_order": 20}]},
    )

    kind: Kind | None = None
    url: Url | None = None
    required_tier_id: TierId | None = None
    is_published: bool | None = None
    sort_order: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] | None = None


class ItemCreate(ItemUpdate):
    """A new exclusive item: kind and English title, the rest optional. With required_tier_id
    it opens to that tier's pledge or more; without, to every active patron."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "audio",
                    "title": "Nebula Dome closing set",
                    "summary": "Luna Vox's three-hour closing set from the December residency, in lossless audio.",
                    "url": "https://www.mixcloud.com/luna-vox/nebula-dome-closing-set/",
                    "required_tier_id": "10482913",
                    "is_published": False,
                }
            ]
        },
    )

    kind: Kind
    title: Title


class ItemTranslations(Body):
    """An exclusive item's texts by language; fields not sent keep their value, null clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "translations": {
                        "it": {"title": "Il set di chiusura del Nebula Dome"},
                        "fr": {"title": "Set de clôture du Nebula Dome"},
                        "es": {"title": "Sesión de cierre del Nebula Dome"},
                    }
                }
            ]
        },
    )

    translations: dict[Language, ItemText]
