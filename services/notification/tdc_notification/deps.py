"""Dependencies the routes share: the database and the notifier."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.db import Database

from .notifier import Notifier


async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


Db = Annotated[Database, Depends(_database)]
Notify = Annotated[Notifier, Depends(_notifier)]
