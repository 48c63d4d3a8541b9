"""The blog app on a fresh schema of the real database and a private bus namespace."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tdc_shared.testing.bus import delete_namespace

sys.path.insert(0, str(Path(__file__).parent))

from blog_testkit import Blog, make_app, make_settings, running


@pytest.fixture(scope="session")
def bus_namespace(amqp_url: str) -> Iterator[str]:
    namespace = f"tblog{uuid.uuid4().hex[:8]}"
    yield namespace
    asyncio.run(delete_namespace(amqp_url, namespace, ["blog"]))  # nothing left on the shared broker


@pytest.fixture(scope="session")
async def blog(mysql_url, amqp_url, db_prefix, bus_namespace, signing_key) -> AsyncIterator[Blog]:
    settings = make_settings(mysql_url, amqp_url, db_prefix, bus_namespace)
    app = make_app(settings, signing_key)
    async with running(app) as client:
        yield Blog(app, client, signing_key)
