"""Writing events into the caller's transaction (the transactional outbox).

`publish` only inserts a row: the event exists if and only if the business change it
describes committed. The relay (`relay.py`) sends committed rows to RabbitMQ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..db import Session
from ..logs import request_id_var
from .catalog import spec_for
from .envelope import Event

MIGRATIONS = Path(__file__).parent / "migrations"


async def publish(
    tx: Session, event_type: str, data: dict[str, Any], *, source: str, correlation_id: str | None = None
) -> Event:
    """Record `event_type` in the outbox of the open transaction `tx`; nothing is sent yet."""
    spec = spec_for(event_type)
    if spec.producer != source:
        raise ValueError(f"{event_type} is produced by {spec.producer}, not {source}")
    event = Event(type=event_type, source=source, data=data, correlation_id=correlation_id or request_id_var.get())
    await tx.execute(
        "INSERT INTO outbox (event_id, event_type, payload) VALUES (%s, %s, %s)",
        (str(event.id), event.type, event.to_json()),
    )
    notify_committed = getattr(tx, "after_commit", None)
    if notify_committed is not None:
        notify_committed(_wake_relays)
    return event


def _wake_relays() -> None:
    from .relay import wake_relays

    wake_relays()
