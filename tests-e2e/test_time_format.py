"""One time format in every answer of every service: the date-times in real answers, collected.

UTC to the second with `Z` (`2026-12-01T19:00:00Z`, tdc_shared.timefmt); the one other shape is a
display time in a venue's zone, in `*_local` fields, with its offset.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tdc_shared.timefmt import LOCAL_FORMAT, UTC_FORMAT

pytestmark = pytest.mark.e2e

# Anything that starts like an ISO 8601 date-time is a date-time, whatever its field is called.
LOOKS_LIKE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def times(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every string that looks like a date-time, anywhere in the answer."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from times(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from times(item, f"{path}[{index}]")
    elif isinstance(value, str) and LOOKS_LIKE_TIME.match(value):
        yield path, value


def wrong_format(path: str, text: str) -> bool:
    field = re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]
    expected = LOCAL_FORMAT if field.endswith("_local") else UTC_FORMAT
    return expected.match(text) is None


async def test_every_service_answers_times_in_one_format(stack, api: httpx2.AsyncClient):
    signed_in = await api.post(
        "/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password}
    )
    assert signed_in.status_code == 200, signed_in.text
    staff = {"Authorization": f"Bearer {signed_in.json()['data']['access_token']}"}
    tag = uuid.uuid4().hex[:8]
    venue = await api.post(
        "/api/v1/admin/locations",
        headers=staff,
        json={"slug": f"clock-{tag}", "name": "Clock Tower", "mood_category": "cosmic_tech"},
    )
    assert venue.status_code == 201, venue.text
    event = await api.post(
        "/api/v1/admin/events",
        headers=staff,
        json={
            "slug": f"midnight-{tag}",
            "title": "Midnight",
            "start": "2031-12-31T23:30:00",
            "end": "2032-01-01T02:00:00",
            "location_id": venue.json()["data"]["id"],
        },
    )
    assert event.status_code == 201, event.text
    published = await api.post(f"/api/v1/admin/events/{event.json()['data']['id']}/publish", headers=staff)
    assert published.status_code == 200, published.text

    answers = [signed_in, venue, event, published]
    for path in (
        "/api/v1/user/profile",
        "/api/v1/user/sessions",
        "/api/v1/admin/users",
        "/api/v1/admin/users/summary",
        "/api/v1/admin/events",
        "/api/v1/admin/events/summary",
        f"/api/v1/events/midnight-{tag}",
        "/api/v1/events",
        "/api/v1/admin/dashboard",
    ):
        response = await api.get(path, headers=staff)
        assert response.status_code == 200, f"{path}: {response.text}"
        answers.append(response)

    found = [(str(r.url.path), p, t) for r in answers for p, t in times(r.json())]
    services_seen = {path.split("/")[3] for path, _, _ in found}
    # Both services' answers carry times (user, admin -> auth; events, admin/events -> catalog).
    assert {"user", "events"} <= services_seen, services_seen
    assert len(found) >= 10, found
    wrong = [(path, field, text) for path, field, text in found if wrong_format(field, text)]
    assert wrong == [], wrong
