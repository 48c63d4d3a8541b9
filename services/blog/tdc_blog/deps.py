"""Dependencies the routes share: the database, the renderer, and clearing the answer cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tdc_shared.db import Database, Session

from .feeds import FeedBuilder
from .render import Renderer
from .settings import BlogSettings


async def _database(request: Request) -> Database:
    # `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    return request.app.state.db


async def _renderer(request: Request) -> Renderer:
    return request.app.state.renderer


async def _feeds(request: Request) -> FeedBuilder:
    return request.app.state.feeds


async def _settings(request: Request) -> BlogSettings:
    return request.app.state.settings


Db = Annotated[Database, Depends(_database)]
Render = Annotated[Renderer, Depends(_renderer)]
Feeds = Annotated[FeedBuilder, Depends(_feeds)]
Settings = Annotated[BlogSettings, Depends(_settings)]


def invalidate_on_commit(request: Request, tx: Session) -> None:
    """Clear this replica's cache the moment the write commits; other replicas hear the bus event."""
    cache = getattr(request.app.state, "cache", None)
    if cache is not None:
        tx.after_commit(cache.clear)
