"""The membership app on a fresh schema of the real database, a private bus namespace, and a
fake Patreon over real HTTP."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tdc_shared.testing.bus import delete_namespace

sys.path.insert(0, str(Path(__file__).parent))

from fake_patreon import FakePatreon
from membership_testkit import Membership, make_app, make_settings, running


@pytest.fixture(scope="session")
def bus_namespace(amqp_url: str) -> Iterator[str]:
    namespace = f"tmem{uuid.uuid4().hex[:8]}"
    yield namespace
    asyncio.run(delete_namespace(amqp_url, namespace, ["membership"]))  # nothing left on the shared broker


@pytest.fixture(scope="session")
def files_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("membership-files")


@pytest.fixture(scope="session")
def fake() -> Iterator[FakePatreon]:
    server = FakePatreon().start()
    server.add_tier("9512103", "Bib", 100)
    server.add_tier("9512023", "Not Even a Bit", 100)
    server.add_tier("t-500", "Regular", 500)
    server.add_tier("t-1500", "Night Owl", 1500)
    server.add_tier("t-700", "Seven", 700)
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def membership(
    mysql_url, amqp_url, db_prefix, bus_namespace, files_dir, signing_key, fake
) -> AsyncIterator[Membership]:
    settings = make_settings(mysql_url, amqp_url, db_prefix, bus_namespace, files_dir, fake)
    app = make_app(settings, signing_key)
    async with running(app) as client:
        yield Membership(app, client, signing_key, fake)
