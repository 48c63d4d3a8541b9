"""Readers' preferences and favourites."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session

DEFAULTS: dict[str, Any] = {
    "event_reminders": False,
    "reminder_hours_before": 24,
    "newsletter": False,
    "language": None,
}


async def get(tx: Session, user_id: int) -> dict[str, Any]:
    row = await tx.fetch_one(
        "SELECT event_reminders, reminder_hours_before, newsletter, language FROM preferences WHERE user_id = %s",
        (user_id,),
    )
    prefs = dict(DEFAULTS)
    if row is not None:
        prefs.update(
            event_reminders=bool(row["event_reminders"]),
            reminder_hours_before=int(row["reminder_hours_before"]),
            newsletter=bool(row["newsletter"]),
            language=row["language"],
        )
    locations = await tx.fetch_all(
        "SELECT k.slug FROM favourite_locations f JOIN known_locations k ON k.id = f.location_id"
        " WHERE f.user_id = %s ORDER BY k.slug",
        (user_id,),
    )
    artists = await tx.fetch_all(
        "SELECT k.slug FROM favourite_artists f JOIN known_artists k ON k.id = f.artist_id"
        " WHERE f.user_id = %s ORDER BY k.slug",
        (user_id,),
    )
    prefs["favourite_locations"] = [r["slug"] for r in locations]
    prefs["favourite_artists"] = [r["slug"] for r in artists]
    return prefs


async def put(
    tx: Session,
    user_id: int,
    *,
    event_reminders: bool,
    reminder_hours_before: int,
    newsletter: bool,
    language: str | None,
    location_ids: list[int],
    artist_ids: list[int],
) -> None:
    await tx.execute(
        "INSERT INTO preferences (user_id, event_reminders, reminder_hours_before, newsletter, language)"
        " VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE event_reminders = VALUES(event_reminders),"
        " reminder_hours_before = VALUES(reminder_hours_before), newsletter = VALUES(newsletter),"
        " language = VALUES(language)",
        (user_id, event_reminders, reminder_hours_before, newsletter, language),
    )
    await tx.execute("DELETE FROM favourite_locations WHERE user_id = %s", (user_id,))
    await tx.execute("DELETE FROM favourite_artists WHERE user_id = %s", (user_id,))
    await tx.execute_many(
        "INSERT INTO favourite_locations (user_id, location_id) VALUES (%s, %s)", [(user_id, i) for i in location_ids]
    )
    await tx.execute_many(
        "INSERT INTO favourite_artists (user_id, artist_id) VALUES (%s, %s)", [(user_id, i) for i in artist_ids]
    )


# What each one-click topic turns off.
UNSUBSCRIBE_SQL = {
    "reminders": "INSERT INTO preferences (user_id, event_reminders) VALUES (%s, 0)"
    " ON DUPLICATE KEY UPDATE event_reminders = 0",
    "newsletter": "INSERT INTO preferences (user_id, newsletter) VALUES (%s, 0) ON DUPLICATE KEY UPDATE newsletter = 0",
    "account": "INSERT INTO preferences (user_id, account_mail) VALUES (%s, 0)"
    " ON DUPLICATE KEY UPDATE account_mail = 0",
}
UNSUBSCRIBED_KINDS = {
    "reminders": ("event_reminder", "event_cancelled"),
    "newsletter": ("newsletter",),
    "account": ("welcome", "supporter_thanks"),
}


async def unsubscribe(tx: Session, user_id: int, topic: str) -> None:
    await tx.execute(UNSUBSCRIBE_SQL[topic], (user_id,))
    kinds = UNSUBSCRIBED_KINDS[topic]
    marks = ", ".join(["%s"] * len(kinds))
    await tx.execute(
        f"UPDATE mails SET status = 'cancelled' WHERE user_id = %s AND status = 'pending' AND kind IN ({marks})",  # noqa: S608 (placeholders only)
        (user_id, *kinds),
    )
