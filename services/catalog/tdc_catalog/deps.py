"""Dependencies the routes share: the database, and clearing the answer cache after a write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.db import Database, Session


async def _database(request: Request) -> Database:
    # `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    return request.app.state.db


Db = Annotated[Database, Depends(_database)]


def invalidate_on_commit(request: Request, tx: Session) -> None:
    """Clear this replica's cache the moment the write commits; other replicas hear the bus event."""
    cache = getattr(request.app.state, "cache", None)
    if cache is not None:
        tx.after_commit(cache.clear)
