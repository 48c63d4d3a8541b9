"""Dependencies the routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.db import Database

from .secrets import SecretBox
from .settings import IntegrationSettings


async def _database(request: Request) -> Database:
    return request.app.state.db


async def _settings(request: Request) -> IntegrationSettings:
    return request.app.state.settings


async def _box(request: Request) -> SecretBox:
    return request.app.state.secret_box


async def _problems(request: Request) -> dict[str, str | None]:
    worker = getattr(request.app.state, "push_worker", None)
    return worker.problems if worker is not None else {}


Problems = Annotated[dict[str, str | None], Depends(_problems)]
Db = Annotated[Database, Depends(_database)]
Settings = Annotated[IntegrationSettings, Depends(_settings)]
Box = Annotated[SecretBox, Depends(_box)]
