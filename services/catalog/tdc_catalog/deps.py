"""Dependencies the routes share: the database, and clearing the answer cache after a write."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import Request

from tdc_shared.db import Database, Session
from tdc_shared.deps import Db

__all__ = ["Db", "invalidate_on_commit", "write_transaction"]


def invalidate_on_commit(request: Request, tx: Session) -> None:
    """Clear this replica's cache the moment the write commits; other replicas hear the bus event."""
    cache = getattr(request.app.state, "cache", None)
    if cache is not None:
        tx.after_commit(cache.clear)


@contextlib.asynccontextmanager
async def write_transaction(db: Database) -> AsyncIterator[Session]:
    """A staff write to events, in READ COMMITTED.

    Under REPEATABLE READ a statement that finds no row (the lineup of a new event before it is
    set, its search document before it exists) locks the gap at the end of the index: two
    staff writes of new events at once then each wait for the other's insert into that gap,
    and InnoDB kills one as a deadlock (a 500). Read committed locks no gaps; each write still
    holds its event's row (SELECT ... FOR UPDATE) until it commits.
    """
    async with db.transaction() as tx:
        await tx.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield tx
