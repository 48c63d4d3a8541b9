"""The request dependencies every route uses, written once: the database, the caller, paging, language.

    from tdc_shared.deps import CurrentUser, Db, Lang, Pagination

    @router.get("/things")
    async def list_things(db: Db, lang: Lang, page: Pagination, user: CurrentUser) -> JSONResponse: ...

All are `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
request for what is an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .auth import AdminUser, CurrentUser, OptionalUser, StaffUser
from .db import Database
from .i18n import Lang
from .pagination import Pagination


async def _database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


Db = Annotated[Database, Depends(_database)]

__all__ = ["AdminUser", "CurrentUser", "Db", "Lang", "OptionalUser", "Pagination", "StaffUser"]
