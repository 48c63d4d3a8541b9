"""Dependencies the routes share: the database and the notifier."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.db import Database

from .notifier import Notifier


async def _database(request: Request) -> Database:
    return request.app.state.db


async def _notifier(request: Request) -> Notifier:
    return request.app.state.notifier


Db = Annotated[Database, Depends(_database)]
Notify = Annotated[Notifier, Depends(_notifier)]
