"""The integration app on a fresh schema of the real database, a private bus namespace, a
catalog-like producer, and the fake Google and Graph servers over real HTTP."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tdc_shared.testing.bus import delete_namespace

sys.path.insert(0, str(Path(__file__).parent))

from fakes import FakeGoogle, FakeGraph
from integration_testkit import Harness, catalog_producer, listening, make_app, make_settings, running

INTERNAL = "internal-calendar@group.calendar.google.com"
PUBLIC = "public-calendar@group.calendar.google.com"


@pytest.fixture(scope="session")
def bus_namespace(amqp_url) -> Iterator[str]:
    """This run's namespace; its durable queues (and those of the variants the tests start,
    `<namespace><suffix>`) are deleted at the end, so runs leave nothing on the shared broker."""
    namespace = f"tint{uuid.uuid4().hex[:8]}"
    yield namespace
    for suffix in ("", "off", "bad", "outage"):
        asyncio.run(delete_namespace(amqp_url, namespace + suffix, ["integration"]))


@pytest.fixture(scope="session")
def google() -> Iterator[FakeGoogle]:
    server = FakeGoogle()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def graph() -> Iterator[FakeGraph]:
    server = FakeGraph()
    server.start()
    server.original_tokens = set(server.tokens)  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="session")
def credentials_file(google: FakeGoogle, tmp_path_factory) -> Path:
    return google.write_credentials(tmp_path_factory.mktemp("google") / "service-account.json")


def connected_settings(mysql_url, amqp_url, prefix, namespace, google, graph, credentials_file, **extra):
    values = {"integration_worker_enabled": False, **extra}
    return make_settings(
        mysql_url,
        amqp_url,
        prefix,
        namespace,
        integration_google_credentials_file=credentials_file,
        integration_google_internal_calendar_id=INTERNAL,
        integration_google_public_calendar_id=PUBLIC,
        integration_google_api_url=google.api_url,
        integration_google_token_url=google.token_url,
        integration_facebook_page_id=graph.page_id,
        integration_facebook_page_token=graph.token,
        integration_facebook_graph_url=graph.url,
        integration_facebook_graph_version="v24.0",
        frontend_url="https://dreamerscave.example",
        **values,
    )


@pytest.fixture(scope="session")
async def harness(
    mysql_url, amqp_url, db_prefix, bus_namespace, signing_key, google, graph, credentials_file
) -> AsyncIterator[Harness]:
    settings = connected_settings(mysql_url, amqp_url, db_prefix, bus_namespace, google, graph, credentials_file)
    app = make_app(settings, signing_key)
    async with (
        catalog_producer(mysql_url, amqp_url, db_prefix, bus_namespace) as producer,
        running(app) as client,
        listening(amqp_url, bus_namespace, "integration.#") as published,
    ):
        harness = Harness(app, client, producer, signing_key, google=google, graph=graph)
        harness.published = published
        yield harness


@pytest.fixture(autouse=True)
async def clean_slate(request) -> AsyncIterator[None]:
    """Each test starts with healthy integrations, no faults queued and no push left waiting."""
    yield
    if "harness" not in request.fixturenames:
        return
    harness: Harness = request.getfixturevalue("harness")
    harness.google.faults.clear()
    harness.graph.faults.clear()
    harness.graph.tokens = set(harness.graph.original_tokens)  # a test that expired them may have failed
    async with harness.db.transaction() as tx:
        await tx.execute("DELETE FROM integration_state")
        await tx.execute("UPDATE pushes SET status = 'dropped' WHERE status IN ('pending', 'failed')")
