"""What an event looks like outside: Google Calendar entries and Facebook page posts, built
from the catalog's EVENT_SNAPSHOT as the read model keeps it."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .timefmt import parse_utc

# Prefixed to the title of a cancelled event: it stays visible, marked (Google's own
# `status: cancelled` would mean deleted and hide it).
CANCELLED = {"en": "Cancelled", "it": "Annullato", "fr": "Annulé", "es": "Cancelado"}
LINEUP = {"en": "Lineup", "it": "Line-up", "fr": "Programmation", "es": "Cartel"}
MORE = {"en": "Details", "it": "Dettagli", "fr": "Détails", "es": "Detalles"}
ADMIN = {"en": "Admin page", "it": "Pagina di amministrazione", "fr": "Page d'administration", "es": "Página de admin"}
DEFAULT_ZONE = "America/Los_Angeles"


def google_event_id(uid: str) -> str:
    """The catalog uid as a Google event id: base32hex (a-v, 0-9), 5 to 1024 characters.

    The same uid always gives the same id, so a second insert of one event is a 409, never a
    second entry."""
    try:
        raw = uuid.UUID(uid).bytes
    except ValueError:
        raw = uid.encode()
    encoded = base64.b32hexencode(raw).decode().rstrip("=").lower()
    return encoded.ljust(5, "0")[:1024]


def zone_of(snapshot: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(snapshot.get("timezone") or DEFAULT_ZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local(value: str | None, zone: ZoneInfo) -> datetime | None:
    parsed = parse_utc(value)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)


def texts(snapshot: dict[str, Any], lang: str) -> dict[str, str]:
    translations = snapshot.get("translations") or {}
    english = translations.get("en") or {}
    chosen = translations.get(lang) or {}
    return {field: str(chosen.get(field) or english.get(field) or "") for field in ("title", "subtitle", "description")}


def title(snapshot: dict[str, Any], lang: str) -> str:
    text = texts(snapshot, lang)["title"] or str(snapshot.get("slug") or "")
    if snapshot.get("status") == "cancelled":
        return f"{CANCELLED[lang]}: {text}"
    return text


def location_name(snapshot: dict[str, Any]) -> str:
    location = snapshot.get("location")
    return str(location.get("name") or "") if isinstance(location, dict) else ""


def _lineup_lines(snapshot: dict[str, Any], zone: ZoneInfo, with_times: bool) -> list[str]:
    lines = []
    for artist in sorted(snapshot.get("artists") or [], key=lambda a: a.get("position") or 0):
        line = str(artist.get("name") or "")
        start, end = local(artist.get("set_start_utc"), zone), local(artist.get("set_end_utc"), zone)
        if with_times and start:
            line += f" {start:%H:%M}" + (f"-{end:%H:%M}" if end else "")
        lines.append(line)
    return lines


def event_url(template: str, settings: Any, snapshot: dict[str, Any]) -> str:
    return template.format(frontend=settings.frontend_url.rstrip("/"), id=snapshot.get("id"), slug=snapshot.get("slug"))


def google_body(snapshot: dict[str, Any], target: str, settings: Any) -> dict[str, Any]:
    """An events.insert/update body. The internal calendar gets the lineup with set times and
    a link to the admin page; the public one the lineup and the public page."""
    lang = settings.integration_language
    zone = zone_of(snapshot)
    words = texts(snapshot, lang)
    internal = target == "internal"
    parts = [p for p in (words["subtitle"], words["description"]) if p]
    lineup = _lineup_lines(snapshot, zone, with_times=internal)
    if lineup:
        parts.append(f"{LINEUP[lang]}:\n" + "\n".join(lineup))
    parts.append(f"{MORE[lang]}: {event_url(settings.integration_public_event_url, settings, snapshot)}")
    if internal:
        parts.append(f"{ADMIN[lang]}: {event_url(settings.integration_admin_event_url, settings, snapshot)}")
    start, end = local(snapshot.get("start_utc"), zone), local(snapshot.get("end_utc"), zone)
    body: dict[str, Any] = {
        "summary": title(snapshot, lang),
        "description": "\n\n".join(parts),
        "location": location_name(snapshot),
        "start": {"dateTime": start.isoformat(timespec="seconds") if start else None, "timeZone": zone.key},
        "end": {"dateTime": end.isoformat(timespec="seconds") if end else None, "timeZone": zone.key},
        "status": "confirmed",
        # Our revision, not Google's `sequence` (which Google manages and refuses lower values for).
        "extendedProperties": {
            "private": {
                "tdcSequence": str(int(snapshot.get("sequence") or 0)),
                "tdcEventId": str(snapshot.get("id")),
                "tdcUid": str(snapshot.get("uid") or ""),
            }
        },
    }
    return body


def _when(snapshot: dict[str, Any]) -> str:
    zone = zone_of(snapshot)
    start, end = local(snapshot.get("start_utc"), zone), local(snapshot.get("end_utc"), zone)
    if start is None:
        return ""
    text = f"{start:%Y-%m-%d %H:%M}"
    if end is not None:
        text += f"-{end:%H:%M}" if end.date() == start.date() else f" - {end:%Y-%m-%d %H:%M}"
    return f"{text} {start.tzname()} ({zone.key})"


def facebook_message(snapshot: dict[str, Any], settings: Any) -> str:
    lang = settings.integration_language
    zone = zone_of(snapshot)
    lines = [title(snapshot, lang), _when(snapshot)]
    where = location_name(snapshot)
    if where:
        lines.append(where)
    lineup = _lineup_lines(snapshot, zone, with_times=False)
    if lineup:
        lines.append(f"{LINEUP[lang]}: " + ", ".join(lineup))
    return "\n".join(line for line in lines if line)


def facebook_fingerprint(snapshot: dict[str, Any], settings: Any) -> str:
    """What a change must alter for the post to be edited: the title, the times, the status."""
    lang = settings.integration_language
    key = [title(snapshot, lang), snapshot.get("start_utc"), snapshot.get("end_utc"), snapshot.get("timezone")]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()
