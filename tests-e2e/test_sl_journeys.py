"""Second Life journeys through the gateway: an admin registers a board and a check-in object,
staff publish a night, the board shows it in Second Life time, a DJ checks in (the bus carries
integration.sl.checked_in), and the board keeps answering while the catalog process is stopped."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

if TYPE_CHECKING:
    from conftest import BusListener

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
OWNER = "5f3c2a10-7d4e-4b8a-9c1d-0e2f3a4b5c6d"


def _lsl_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "tdc_e2e_lsl_client", ROOT / "services" / "integration" / "tests" / "lsl_client.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lsl = _lsl_module()


@pytest.fixture
async def client(stack) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30) as http:
        yield http


@pytest.fixture
async def admin(stack, client: httpx2.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


async def register(client: httpx2.AsyncClient, admin: dict[str, str], purpose: str, location: str) -> Any:
    answer = await client.post(
        "/api/v1/admin/integrations/sl/objects",
        headers=admin,
        json={"name": f"Cave {purpose}", "purpose": purpose, "location": location, "owner_key": OWNER},
    )
    assert answer.status_code == 201, answer.text
    data = answer.json()["data"]
    return lsl.LslObject(client, data["id"], data["secret"], owner_key=OWNER)


async def eventually(check, what: str, within: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


async def test_board_checkin_and_a_board_without_the_catalog(
    stack, client: httpx2.AsyncClient, admin: dict[str, str], bus: BusListener
) -> None:
    slug = f"moon-{uuid.uuid4().hex[:8]}"
    venue = await client.post(
        "/api/v1/admin/locations", headers=admin, json={"slug": slug, "name": "Moon Garden", "mood_category": "hybrid"}
    )
    assert venue.status_code == 201, venue.text
    start = (datetime.now(UTC) + timedelta(minutes=30)).replace(second=0, microsecond=0)
    draft = await client.post(
        "/api/v1/admin/events",
        headers=admin,
        json={
            "slug": f"tide-{uuid.uuid4().hex[:8]}",
            "title": "Moon Tide",
            "start": _local(start),
            "end": _local(start + timedelta(hours=2)),
            "timezone": "America/Los_Angeles",
            "location_id": venue.json()["data"]["id"],
        },
    )
    assert draft.status_code == 201, draft.text
    event = draft.json()["data"]
    texts = await client.put(
        f"/api/v1/admin/events/{event['id']}/translations",
        headers=admin,
        json={"translations": {"it": {"title": "Marea di luna"}}},
    )
    assert texts.status_code == 200, texts.text
    assert (await client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=admin)).status_code == 200

    board = await register(client, admin, "board", slug)

    async def shown() -> Any:
        answer = await board.get(f"/api/v1/sl/board?location={slug}&lang=it")
        assert answer.status_code == 200, answer.text
        items = answer.json()["data"]["items"]
        return items if items else None

    items = await eventually(shown, "the board to show the published night")
    assert items[0]["title"] == "Marea di luna" and items[0]["state"] == "next"
    assert items[0]["start"] == _local(start)[11:16]

    host = await register(client, admin, "checkin", slug)
    dj = str(uuid.uuid4())
    checked = await host.post(
        "/api/v1/sl/checkin", {"event": event["slug"], "avatar_key": dj, "avatar_name": "DJ Tide"}
    )
    assert checked.status_code == 200, checked.text
    message = await bus.expect("integration.sl.checked_in", event_slug=event["slug"])
    assert message["data"]["avatar_key"] == dj and message["data"]["location"] == slug
    unsigned = await client.get(f"/api/v1/sl/board?location={slug}")
    assert unsigned.status_code == 401  # the gateway wants a signature before anything else

    catalogs = stack.instances("catalog")
    for name in catalogs:  # every replica: the whole catalog is gone
        stack.stop_instance(name)
    try:
        down = await client.get(f"/api/v1/events/{event['slug']}")
        assert down.status_code in (502, 503)  # the catalog is really gone
        answer = await board.get(f"/api/v1/sl/board?location={slug}&format=text")
        assert answer.status_code == 200
        assert answer.text.startswith("live|") and "|Moon Tide|" in answer.text
        assert len(answer.content) < 2048
    finally:
        for name in catalogs:
            stack.restart_instance(name)
    assert (await client.get(f"/api/v1/events/{event['slug']}")).status_code == 200


def _local(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None).isoformat(timespec="seconds")
