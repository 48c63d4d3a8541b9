"""The event envelope on the wire: {id, type, version, occurred_at, source, correlation_id, data}."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    # Tolerant reader: fields a newer producer adds are ignored, not an error.
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    # <context>.<entity>.<past-tense-verb>; digits allowed for entities like `i18n`.
    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    version: int = 1
    occurred_at: datetime = Field(default_factory=_now)
    source: str
    correlation_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        return cls.model_validate_json(raw)
