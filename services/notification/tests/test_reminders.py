"""Reminders scheduled in the database: due at the right time, moved, replaced, dropped."""

from __future__ import annotations

from datetime import timedelta

from notification_testkit import Service, event_payload
from smtp_servers import SmtpServer

VENUE = {"id": 3, "slug": "crystal-hall", "name": "Crystal Hall"}
OTHER = {"id": 4, "slug": "moss-garden", "name": "Moss Garden"}
DJ = {"id": 8, "slug": "dj-nova", "name": "DJ Nova"}


async def _known_catalog(service: Service) -> None:
    for venue in (VENUE, OTHER):
        await service.publish("catalog.location.updated", {**venue, "is_active": True, "mood_category": "x"})
    await service.publish("catalog.artist.updated", {**DJ, "genre": "ambient", "is_active": True})


async def test_a_favourite_venue_is_reminded_hours_before_and_not_earlier(service: Service, sink: SmtpServer):
    await _known_catalog(service)
    await service.verified_user(
        10, "fan@example.com", "fr", event_reminders=True, reminder_hours_before=2, favourite_locations=["crystal-hall"]
    )
    await service.verified_user(11, "other@example.com", event_reminders=True, favourite_locations=["moss-garden"])
    await service.verified_user(12, "quiet@example.com", event_reminders=False)
    await service.verified_user(13, "all@example.com", event_reminders=True, reminder_hours_before=1)  # no favourites
    await service.publish("catalog.event.published", event_payload(100, 5, service.clock, location=VENUE))
    sender = service.sender(sink.url)
    assert await sender.send_batch() == 0  # nothing due yet
    service.clock.advance(3 * 3600 + 60)  # 1h59 before: the 2-hour reminder is due, the 1-hour one is not
    assert await sender.send_batch() == 1
    [mail] = sink.to("fan@example.com")
    assert mail.subject.startswith("Rappel : Nuit de Lune commence")
    assert "Crystal Hall" in mail.part("plain")
    assert "https://club.test/events/night-100" in mail.part("plain")
    service.clock.advance(3600)
    assert await sender.send_batch() == 1
    assert len(sink.to("all@example.com")) == 1
    assert sink.to("other@example.com") == [] and sink.to("quiet@example.com") == []


async def test_a_favourite_artist_is_enough(service: Service, sink: SmtpServer):
    await _known_catalog(service)
    await service.verified_user(20, "a@example.com", event_reminders=True, favourite_artists=["dj-nova"])
    await service.publish(
        "catalog.event.published", event_payload(101, 30, service.clock, location=OTHER, artists=[DJ])
    )
    [row] = await service.mails(kind="event_reminder")
    assert row["user_id"] == 20
    assert (
        row["due_at"] == row["created_at"] + timedelta(hours=6)
        or abs((row["due_at"] - (row["created_at"] + timedelta(hours=6))).total_seconds()) < 5
    )


async def test_unverified_or_inactive_readers_are_not_reminded(service: Service):
    await _known_catalog(service)
    await service.verified_user(30, "v@example.com", event_reminders=True)
    await service.publish(
        "auth.user.updated",
        {
            "user_id": 30,
            "email": "v@example.com",
            "username": "v",
            "language": "en",
            "is_active": True,
            "email_verified": False,
        },
    )
    await service.publish("catalog.event.published", event_payload(102, 30, service.clock, location=VENUE))
    assert await service.mails(kind="event_reminder") == []


async def test_a_reschedule_moves_the_pending_reminder(service: Service):
    await _known_catalog(service)
    await service.verified_user(40, "r@example.com", event_reminders=True, reminder_hours_before=24)
    await service.publish("catalog.event.published", event_payload(103, 48, service.clock, location=VENUE))
    [before] = await service.mails(kind="event_reminder", status="pending")
    await service.publish("catalog.event.updated", event_payload(103, 72, service.clock, location=VENUE))
    [after] = await service.mails(kind="event_reminder", status="pending")
    assert abs((after["due_at"] - before["due_at"]).total_seconds() - 24 * 3600) < 5


async def test_a_cancellation_replaces_reminders_with_a_notice(service: Service, sink: SmtpServer):
    await _known_catalog(service)
    await service.verified_user(50, "c@example.com", "es", event_reminders=True, favourite_locations=["crystal-hall"])
    await service.verified_user(51, "d@example.com", event_reminders=True, favourite_locations=["moss-garden"])
    payload = event_payload(104, 48, service.clock, location=VENUE)
    await service.publish("catalog.event.published", payload)
    await service.publish("catalog.event.cancelled", {**payload, "status": "cancelled"})
    assert await service.mails(kind="event_reminder", status="pending") == []
    assert await service.sender(sink.url).send_batch() == 1
    [notice] = sink.received
    assert notice.to == ["c@example.com"] and notice.subject.startswith("Cancelado: Noche de Luna")
    assert notice.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_a_deleted_event_drops_its_reminders(service: Service):
    await _known_catalog(service)
    await service.verified_user(60, "e@example.com", event_reminders=True)
    await service.publish("catalog.event.published", event_payload(105, 48, service.clock, location=VENUE))
    await service.publish("catalog.event.deleted", {"id": 105, "uid": "x", "slug": "night-105", "sequence": 1})
    assert await service.mails(kind="event_reminder", status="pending") == []


async def test_turning_reminders_on_later_schedules_upcoming_events(service: Service):
    await _known_catalog(service)
    await service.verified_user(70, "late@example.com")
    await service.publish("catalog.event.published", event_payload(106, 48, service.clock, location=VENUE))
    assert await service.mails(kind="event_reminder") == []
    response = await service.client.put(
        "/api/v1/user/notifications/preferences", json={"event_reminders": True}, headers=service.auth(70)
    )
    assert response.status_code == 200
    [row] = await service.mails(kind="event_reminder")
    assert row["user_id"] == 70 and row["subject_ref"] == "event:106"
