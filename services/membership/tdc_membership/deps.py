"""Dependencies the routes share: the database, settings, the Patreon client, the reconciler."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.db import Database
from tdc_shared.envelope import ServiceUnavailable

from .patreon import PatreonClient
from .reconcile import Reconciler
from .settings import MembershipSettings

NOT_CONFIGURED = "Patreon is not configured"


async def _database(request: Request) -> Database:
    return request.app.state.db


async def _settings(request: Request) -> MembershipSettings:
    return request.app.state.settings


async def _patreon(request: Request) -> PatreonClient:
    return request.app.state.patreon


async def _reconciler(request: Request) -> Reconciler:
    reconciler: Reconciler | None = request.app.state.reconciler
    if reconciler is None:
        raise ServiceUnavailable(NOT_CONFIGURED)
    return reconciler


Db = Annotated[Database, Depends(_database)]
Settings = Annotated[MembershipSettings, Depends(_settings)]
Patreon = Annotated[PatreonClient, Depends(_patreon)]
ReconcilerDep = Annotated[Reconciler, Depends(_reconciler)]
