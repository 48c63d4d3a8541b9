"""Dependencies the routes share: the database, and clearing the answer cache after a write."""

from __future__ import annotations

from fastapi import Request

from tdc_shared.db import Session
from tdc_shared.deps import Db

__all__ = ["Db", "invalidate_on_commit"]


def invalidate_on_commit(request: Request, tx: Session) -> None:
    """Clear this replica's cache the moment the write commits; other replicas hear the bus event."""
    cache = getattr(request.app.state, "cache", None)
    if cache is not None:
        tx.after_commit(cache.clear)
