"""Notification journeys through the gateway, with a real SMTP sink: sign up with the link from the
verification mail, reset a password from the reset mail, and get a reminder of a night at a
favourite venue at the time asked for."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "a long night of music"


@pytest.fixture
async def client(stack) -> Any:
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30) as api:
        yield api


async def mail_to(sink: Any, address: str, subject_start: str, within: float = 60.0) -> EmailMessage:
    deadline = time.monotonic() + within
    while True:
        for message in sink.to(address):
            if str(message["Subject"]).startswith(subject_start):
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail {subject_start!r} to {address} within {within:g}s")
        await asyncio.sleep(0.2)


def token_in(message: EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(path)}\?token=([A-Za-z0-9_\-]+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


async def sign_up(api: httpx2.AsyncClient, sink: Any) -> dict[str, Any]:
    address = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
    response = await api.post(
        "/api/v1/auth/register",
        json={"email": address, "username": f"n_{uuid.uuid4().hex[:10]}", "password": PASSWORD},
    )
    assert response.status_code == 202, response.text  # the same answer for known and new addresses
    verification = await mail_to(sink, address, "Confirm your email address")
    assert verification["List-Unsubscribe"] is None
    verified = await api.post("/api/v1/auth/verify-email", json={"token": token_in(verification, "/verify-email")})
    assert verified.status_code == 200, verified.text
    login = await api.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["data"]["access_token"]
    return {"email": address, "headers": {"Authorization": f"Bearer {token}"}, **response.json()["data"]}


async def test_sign_up_with_the_mailed_link_then_the_welcome(client: httpx2.AsyncClient, mail_sink):
    user = await sign_up(client, mail_sink)
    welcome = await mail_to(mail_sink, user["email"], "Welcome to The Dreamer's Cave")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # One click, as a mail client does it: POST to the link, no sign-in, through the gateway.
    link = re.fullmatch(r"<https?://[^/]+(/\S+)>", welcome["List-Unsubscribe"])
    assert link, welcome["List-Unsubscribe"]
    unsubscribed = await client.post(link.group(1), content="List-Unsubscribe=One-Click")
    assert unsubscribed.status_code == 200, unsubscribed.text
    assert unsubscribed.json()["data"] == {"unsubscribed": "account"}
    mine = await client.get("/api/v1/user/notifications", headers=user["headers"])
    assert mine.status_code == 200
    kinds = {m["kind"]: m["status"] for m in mine.json()["data"]}
    assert kinds.get("verify_email") == "sent"


async def test_password_reset_with_the_mailed_link(client: httpx2.AsyncClient, mail_sink):
    user = await sign_up(client, mail_sink)
    asked = await client.post("/api/v1/auth/forgot-password", json={"email": user["email"]})
    assert asked.status_code == 202
    reset = await mail_to(mail_sink, user["email"], "Reset your password")
    new_password = "another long night of music"
    done = await client.post(
        "/api/v1/auth/reset-password", json={"token": token_in(reset, "/reset-password"), "password": new_password}
    )
    assert done.status_code == 200, done.text
    login = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": new_password})
    assert login.status_code == 200


async def test_a_night_at_a_favourite_venue_is_reminded_at_the_time_asked(stack, client: httpx2.AsyncClient, mail_sink):
    login = await client.post("/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password})
    staff = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    slug = f"grotto-{uuid.uuid4().hex[:8]}"
    venue = await client.post(
        "/api/v1/admin/locations", headers=staff, json={"slug": slug, "name": "Grotto", "mood_category": "hybrid"}
    )
    assert venue.status_code == 201, venue.text
    user = await sign_up(client, mail_sink)
    prefs = {"event_reminders": True, "reminder_hours_before": 1, "favourite_locations": [slug]}
    deadline = time.monotonic() + 30
    while True:  # the venue reaches the notification service's read model through the bus
        answer = await client.put("/api/v1/user/notifications/preferences", json=prefs, headers=user["headers"])
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        assert answer.status_code == 422, answer.text
        await asyncio.sleep(0.3)
    assert answer.status_code == 200, answer.text
    # The night starts an hour and 20 seconds from now: the one-hour reminder is due in 20 seconds.
    start = (datetime.now(UTC) + timedelta(hours=1, seconds=20)).replace(microsecond=0)
    draft = await client.post(
        "/api/v1/admin/events",
        headers=staff,
        json={
            "slug": f"deep-{uuid.uuid4().hex[:8]}",
            "title": "Deep Echoes",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "location_id": venue.json()["data"]["id"],
        },
    )
    assert draft.status_code == 201, draft.text
    published = await client.post(f"/api/v1/admin/events/{draft.json()['data']['id']}/publish", headers=staff)
    assert published.status_code == 200, published.text
    reminder = await mail_to(mail_sink, user["email"], "Reminder: Deep Echoes", within=90)
    sent_at = parsedate_to_datetime(reminder["Date"])
    assert sent_at >= start - timedelta(hours=1, seconds=1)  # not before it was due
    assert "Grotto" in reminder.get_body(preferencelist=("plain",)).get_content()
    assert reminder["List-Unsubscribe"].startswith("<")
    # Every service runs two replicas here, each with a mail worker: the reminder was claimed once.
    await asyncio.sleep(3)
    sent = [m for m in mail_sink.to(user["email"]) if str(m["Subject"]).startswith("Reminder: Deep Echoes")]
    assert len(sent) == 1
