"""Each test gets the notification app on a fresh schema and bus namespace, and a real SMTP sink."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from notification_testkit import Service, make_settings, running_service
from smtp_servers import SmtpServer

from tdc_notification.clock import Clock
from tdc_shared.testing.bus import delete_namespace


@pytest.fixture
def sink() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def service(mysql_url, amqp_url, db_prefix, signing_key, sink) -> AsyncIterator[Service]:
    suffix = uuid.uuid4().hex[:6]
    settings = make_settings(mysql_url, amqp_url, f"{db_prefix}{suffix}_", f"tnot{suffix}", sink.url)
    try:
        async with running_service(settings, signing_key, Clock()) as running:
            yield running
    finally:
        await delete_namespace(amqp_url, settings.bus_namespace, ["notification"])
