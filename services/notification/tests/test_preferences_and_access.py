"""Preferences with their validation errors, my mails, and who may see and change what."""

from __future__ import annotations

import pytest
from notification_testkit import Service
from smtp_servers import SmtpServer

PREFS = "/api/v1/user/notifications/preferences"


async def _catalog(service: Service) -> None:
    await service.publish(
        "catalog.location.updated", {"id": 1, "slug": "crystal-hall", "name": "Crystal Hall", "is_active": True}
    )
    await service.publish("catalog.artist.updated", {"id": 2, "slug": "dj-nova", "name": "DJ Nova", "is_active": True})


async def test_preferences_round_trip_with_defaults_first(service: Service):
    await _catalog(service)
    response = await service.client.get(PREFS, headers=service.auth(5))
    assert response.status_code == 200
    assert response.json()["data"] == {
        "event_reminders": False,
        "reminder_hours_before": 24,
        "newsletter": False,
        "language": None,
        "favourite_locations": [],
        "favourite_artists": [],
    }
    body = {
        "event_reminders": True,
        "reminder_hours_before": 168,
        "favourite_locations": ["crystal-hall"],
        "favourite_artists": ["dj-nova"],
        "newsletter": True,
        "language": "it",
    }
    response = await service.client.put(PREFS, json=body, headers=service.auth(5))
    assert response.status_code == 200, response.text
    assert response.json()["data"] == body
    # Leaving fields out keeps them.
    response = await service.client.put(PREFS, json={"newsletter": False}, headers=service.auth(5))
    assert response.json()["data"] == {**body, "newsletter": False}


async def test_unknown_slugs_are_named_in_a_422(service: Service):
    await _catalog(service)
    response = await service.client.put(
        PREFS,
        json={"favourite_locations": ["crystal-hall", "atlantis"], "favourite_artists": ["nobody", "dj-nova"]},
        headers=service.auth(5),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert body["errors"] == {
        "favourite_locations": ["unknown location: atlantis"],
        "favourite_artists": ["unknown artist: nobody"],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reminder_hours_before": 0}, "reminder_hours_before"),
        ({"reminder_hours_before": 169}, "reminder_hours_before"),
        ({"language": "de"}, "language"),
        ({"event_reminders": "maybe"}, "event_reminders"),
        ({"favourite_locations": "crystal-hall"}, "favourite_locations"),
        ({"colour": "blue"}, "colour"),
        ({"favourite_artists": [""]}, "favourite_artists.0"),
        ({"favourite_artists": ["x" * 192]}, "favourite_artists.0"),
        ({"favourite_locations": [f"v{n}" for n in range(101)]}, "favourite_locations"),
    ],
)
async def test_bad_preferences_are_refused_field_by_field(service: Service, body, field):
    response = await service.client.put(PREFS, json=body, headers=service.auth(5))
    assert response.status_code == 422
    assert field in response.json()["errors"]


async def test_signed_out_callers_get_401(service: Service):
    for method, path in (("GET", PREFS), ("PUT", PREFS), ("GET", "/api/v1/user/notifications")):
        response = await service.client.request(method, path, json={})
        assert response.status_code == 401
        assert response.json()["success"] is False


async def test_a_user_sees_only_their_own_mails(service: Service, sink: SmtpServer):
    for user_id, address in ((7, "seven@example.com"), (8, "eight@example.com")):
        await service.publish(
            "auth.password_reset.requested",
            {"user_id": user_id, "email": address, "username": "u", "language": "en", "token": f"tok{user_id}"},
        )
    await service.sender(sink.url).send_batch()
    response = await service.client.get("/api/v1/user/notifications?per_page=10", headers=service.auth(7))
    assert response.status_code == 200
    body = response.json()
    assert [m["kind"] for m in body["data"]] == ["password_reset"]
    [mine] = body["data"]
    assert mine["status"] == "sent" and mine["subject"] == "Reset your password"
    assert mine["sent_at"].endswith("Z") and len(mine["sent_at"]) == 20
    assert "to" not in mine
    assert body["meta"]["pagination"]["total"] == 1
    other = await service.client.get("/api/v1/user/notifications", headers=service.auth(9))
    assert other.json()["data"] == []


@pytest.mark.parametrize("role", ["user", "staff"])
async def test_admin_routes_refuse_users_and_staff(service: Service, role: str):
    headers = service.auth(3, role)
    for method, path in (
        ("GET", "/api/v1/admin/notifications/queue"),
        ("GET", "/api/v1/admin/notifications/queue/1"),
        ("POST", "/api/v1/admin/notifications/queue/1/retry"),
        ("POST", "/api/v1/admin/notifications/queue/1/cancel"),
        ("GET", "/api/v1/admin/notifications/summary"),
    ):
        response = await service.client.request(method, path, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "Admin access required"


async def test_admin_queue_filters_cancel_and_summary(service: Service):
    for user_id in (1, 2):
        await service.publish(
            "auth.email_verification.requested",
            {
                "user_id": user_id,
                "email": f"u{user_id}@example.com",
                "username": "u",
                "language": "en",
                "token": f"v{user_id}",
            },
        )
    queue = "/api/v1/admin/notifications/queue"
    response = await service.client.get(f"{queue}?address=u2@example.com", headers=service.admin)
    [row] = response.json()["data"]
    assert row["to"] == "u2@example.com" and row["kind"] == "verify_email" and row["status"] == "pending"
    assert (await service.client.get(f"{queue}?status=sent", headers=service.admin)).json()["data"] == []
    assert len((await service.client.get(f"{queue}?kind=verify_email", headers=service.admin)).json()["data"]) == 2
    bad = await service.client.get(f"{queue}?status=lost&kind=spam", headers=service.admin)
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"status", "kind"}
    cancelled = await service.client.post(f"{queue}/{row['id']}/cancel", headers=service.admin)
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled"
    again = await service.client.post(f"{queue}/{row['id']}/cancel", headers=service.admin)
    assert again.status_code == 409
    retry = await service.client.post(f"{queue}/{row['id']}/retry", headers=service.admin)
    assert retry.status_code == 409
    assert (await service.client.get(f"{queue}/999999", headers=service.admin)).status_code == 404
    assert (await service.client.get(f"{queue}/0", headers=service.admin)).status_code == 422
    summary = await service.client.get("/api/v1/admin/notifications/summary", headers=service.admin)
    data = summary.json()["data"]
    assert data["by_status"]["pending"] == 1 and data["by_status"]["cancelled"] == 1
    assert data["due_now"] == 1 and data["oldest_due_at"].endswith("Z")


async def test_an_admin_retries_a_failed_mail(service: Service, sink: SmtpServer):
    from smtp_servers import Behaviour
    from smtp_servers import SmtpServer as Server

    await service.verified_user(90, "w@example.com")
    await service.publish(
        "auth.user.registered", {"user_id": 90, "email": "w@example.com", "username": "w", "language": "en"}
    )
    with Server(Behaviour(replies=["554 5.7.1 Rejected"])) as refusing:
        await service.sender(refusing.url).send_batch()
    [row] = await service.mails(kind="welcome")
    assert row["status"] == "failed"
    response = await service.client.post(f"/api/v1/admin/notifications/queue/{row['id']}/retry", headers=service.admin)
    assert response.status_code == 200 and response.json()["data"]["status"] == "pending"
    await service.sender(sink.url).send_batch()
    assert len(sink.to("w@example.com")) == 1
