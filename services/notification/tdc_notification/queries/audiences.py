"""Bulk enqueueing in one INSERT ... SELECT each: reminders, cancellation notices, newsletters.

The database streams the recipients straight into the queue, so queueing a newsletter for
10,000 readers holds none of them in this process. Subjects are rendered beforehand in the
four languages and chosen per row with a CASE on the reader's language.
"""

from __future__ import annotations

from datetime import datetime

from tdc_shared.db import Session

from ..kinds import ACCOUNT, BULK, REMINDER

# Readers who want reminders of an event at location %s with the lineup %s (",3,7,"), with a
# verified, active address; readers without any favourite want every event (as the seed did).
# The third pair of parameters narrows it to one reader when not NULL.
AUDIENCE = (
    "SELECT p.user_id, r.email, COALESCE(p.language, r.language) AS language, p.reminder_hours_before"
    " FROM preferences p JOIN recipients r ON r.user_id = p.user_id"
    " WHERE p.event_reminders = 1 AND r.email_verified = 1 AND r.is_active = 1"
    " AND (%s IS NULL OR p.user_id = %s)"
    " AND ((NOT EXISTS (SELECT 1 FROM favourite_locations fl WHERE fl.user_id = p.user_id)"
    "       AND NOT EXISTS (SELECT 1 FROM favourite_artists fa WHERE fa.user_id = p.user_id))"
    "   OR EXISTS (SELECT 1 FROM favourite_locations fl WHERE fl.user_id = p.user_id AND fl.location_id = %s)"
    "   OR EXISTS (SELECT 1 FROM favourite_artists fa WHERE fa.user_id = p.user_id"
    "              AND %s LIKE CONCAT('%%,', fa.artist_id, ',%%')))"
)

SUBJECT_BY_LANGUAGE = "CASE {column} WHEN 'it' THEN %s WHEN 'fr' THEN %s WHEN 'es' THEN %s ELSE %s END"
_BY_A = SUBJECT_BY_LANGUAGE.format(column="a.language")
_BY_READER = SUBJECT_BY_LANGUAGE.format(column="COALESCE(p.language, r.language)")

_COLUMNS = (
    "idempotency_key, user_id, kind, subject_ref, to_address, language, subject, context, priority, status,"
    " due_at, created_at"
)


def _subjects(subjects: dict[str, str]) -> tuple[str, str, str, str]:
    return (subjects["it"], subjects["fr"], subjects["es"], subjects["en"])


async def schedule_reminders(
    tx: Session,
    *,
    event_id: int,
    start: datetime,
    location_id: int | None,
    artist_ids: str,
    context: str,
    subjects: dict[str, str],
    now: datetime,
    user_id: int | None = None,
) -> int:
    """A pending reminder, `reminder_hours_before` ahead of `start` (at once if that is past),
    for every reader in the audience who has none yet for this start time."""
    stamp = start.strftime("%Y%m%dT%H%M%S")
    return await tx.execute(
        f"INSERT IGNORE INTO mails ({_COLUMNS})"  # noqa: S608 (constant text)
        " SELECT CONCAT('event_reminder:', a.user_id, ':', %s, ':', %s), a.user_id, 'event_reminder', %s,"
        f" a.email, a.language, {_BY_A}, %s, %s, 'pending',"
        " GREATEST(%s, %s - INTERVAL a.reminder_hours_before HOUR), %s"
        f" FROM ({AUDIENCE}) a",
        (
            event_id,
            stamp,
            f"event:{event_id}",
            *_subjects(subjects),
            context,
            REMINDER,
            now,
            start,
            now,
            user_id,
            user_id,
            location_id,
            artist_ids,
        ),
    )


async def drop_unsent_reminders(tx: Session, event_id: int | None, user_id: int | None = None) -> None:
    """Pending reminders of an event (or of one reader): never attempted ones are deleted (they
    are scheduled afresh), ones waiting for a retry are cancelled."""
    ref = f"event:{event_id}" if event_id is not None else None
    params = (ref, ref, user_id, user_id)
    scope = "(%s IS NULL OR subject_ref = %s) AND (%s IS NULL OR user_id = %s)"
    await tx.execute(
        f"DELETE FROM mails WHERE kind = 'event_reminder' AND status = 'pending' AND attempts = 0 AND {scope}",  # noqa: S608 (constant text)
        params,
    )
    await tx.execute(
        f"UPDATE mails SET status = 'cancelled' WHERE kind = 'event_reminder' AND status = 'pending' AND {scope}",  # noqa: S608 (constant text)
        params,
    )


async def cancellation_notices(
    tx: Session, *, event_id: int, context: str, subjects: dict[str, str], now: datetime
) -> int:
    """A notice to every reader who had a reminder of the event coming (or already sent)."""
    return await tx.execute(
        f"INSERT IGNORE INTO mails ({_COLUMNS})"  # noqa: S608 (constant text)
        " SELECT CONCAT('event_cancelled:', a.user_id, ':', %s), a.user_id, 'event_cancelled', %s, a.email,"
        f" a.language, {_BY_A}, %s, %s, 'pending', %s, %s"
        " FROM (SELECT DISTINCT r.user_id, r.email, COALESCE(p.language, r.language) AS language"
        "       FROM mails m JOIN recipients r ON r.user_id = m.user_id"
        "       LEFT JOIN preferences p ON p.user_id = r.user_id"
        "       WHERE m.kind = 'event_reminder' AND m.subject_ref = %s AND m.status <> 'cancelled'"
        "       AND r.email_verified = 1 AND r.is_active = 1) a",
        (event_id, f"event:{event_id}", *_subjects(subjects), context, ACCOUNT, now, now, f"event:{event_id}"),
    )


async def cancel_event_mail(tx: Session, event_id: int, kinds: tuple[str, ...]) -> None:
    marks = ", ".join(["%s"] * len(kinds))
    await tx.execute(
        f"UPDATE mails SET status = 'cancelled' WHERE subject_ref = %s AND status = 'pending' AND kind IN ({marks})",  # noqa: S608 (placeholders only)
        (f"event:{event_id}", *kinds),
    )


async def newsletter(tx: Session, *, post_id: int, context: str, subjects: dict[str, str], now: datetime) -> int:
    return await tx.execute(
        f"INSERT IGNORE INTO mails ({_COLUMNS})"  # noqa: S608 (constant text)
        " SELECT CONCAT('newsletter:', r.user_id, ':', %s), r.user_id, 'newsletter', %s, r.email,"
        f" COALESCE(p.language, r.language), {_BY_READER}, %s, %s, 'pending', %s, %s"
        " FROM preferences p JOIN recipients r ON r.user_id = p.user_id"
        " WHERE p.newsletter = 1 AND r.email_verified = 1 AND r.is_active = 1",
        (post_id, f"post:{post_id}", *_subjects(subjects), context, BULK, now, now),
    )


async def cancel_newsletter(tx: Session, post_id: int) -> None:
    await tx.execute(
        "UPDATE mails SET status = 'cancelled' WHERE subject_ref = %s AND kind = 'newsletter' AND status = 'pending'",
        (f"post:{post_id}",),
    )


async def refresh_newsletter(tx: Session, *, post_id: int, context: str, subjects: dict[str, str]) -> None:
    await tx.execute(
        f"UPDATE mails SET context = %s, subject = {SUBJECT_BY_LANGUAGE.format(column='language')}"  # noqa: S608 (constant text)
        " WHERE subject_ref = %s AND kind = 'newsletter' AND status = 'pending'",
        (context, *_subjects(subjects), f"post:{post_id}"),
    )
