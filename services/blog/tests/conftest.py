"""The blog app on a fresh schema of the real database and a private bus namespace."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from blog_testkit import Blog, make_app, make_settings, running


@pytest.fixture(scope="session")
def bus_namespace() -> str:
    return f"tblog{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
async def blog(mysql_url, amqp_url, db_prefix, bus_namespace, signing_key) -> AsyncIterator[Blog]:
    settings = make_settings(mysql_url, amqp_url, db_prefix, bus_namespace)
    app = make_app(settings, signing_key)
    async with running(app) as client:
        yield Blog(app, client, signing_key)
