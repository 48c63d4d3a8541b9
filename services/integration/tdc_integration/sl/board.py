"""The in-world board: what is on now and next at a location, in Second Life time, always
smaller than what a script reads of a body (2,048 bytes by default).

Too long an answer loses items from the end of the list first (`truncated: true`); if one item
alone is still too long its texts are shortened, by whole characters, never a byte sequence
cut in half.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .. import render
from ..timefmt import parse_utc

SL_TIME = ZoneInfo("America/Los_Angeles")  # Second Life time (SLT)
ELLIPSIS = "…"


def _slt(value: str | None) -> datetime | None:
    parsed = parse_utc(value)
    return parsed.replace(tzinfo=ZoneInfo("UTC")).astimezone(SL_TIME) if parsed else None


def item(row: dict[str, Any], lang: str, now: datetime, live: bool) -> dict[str, Any]:
    snapshot = row["snapshot"]
    start, end = _slt(snapshot.get("start_utc")), _slt(snapshot.get("end_utc"))
    if row["status"] == "cancelled":
        state = "cancelled"
    elif live:  # a DJ or host checked in from the venue
        state = "live"
    elif row["start_utc"] is not None and row["start_utc"] <= now:
        state = "now"
    else:
        state = "next"
    artists = sorted(snapshot.get("artists") or [], key=lambda a: a.get("position") or 0)
    return {
        "slug": row["slug"],
        "title": render.texts(snapshot, lang)["title"] or row["slug"],
        "day": f"{start:%Y-%m-%d}" if start else "",
        "start": f"{start:%H:%M}" if start else "",
        "end": f"{end:%H:%M}" if end else "",
        "artists": [str(a.get("name") or "") for a in artists],
        "state": state,
    }


def _bytes(body: dict[str, Any]) -> bytes:
    # As Starlette's JSONResponse writes it: compact, UTF-8 unescaped.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _shorten(text: str) -> str:
    """About half as long, by characters, marked as cut."""
    keep = max(0, len(text.rstrip(ELLIPSIS)) // 2)
    return text[:keep] + ELLIPSIS if keep else ""


def fit_json(location: str, items: list[dict[str, Any]], limit: int) -> bytes:
    data: dict[str, Any] = {"location": location, "tz": "SLT", "items": items, "truncated": False}
    body = {"success": True, "data": data}
    encoded = _bytes(body)
    while len(encoded) >= limit and len(items) > 1:
        items.pop()
        data["truncated"] = True
        encoded = _bytes(body)
    while len(encoded) >= limit and items:
        data["truncated"] = True
        only = items[0]
        if only["artists"]:
            only["artists"] = only["artists"][:-1] if len(only["artists"]) > 1 else [_shorten(only["artists"][0])]
            if only["artists"] == [""]:
                only["artists"] = []
        elif only["title"]:
            only["title"] = _shorten(only["title"])
        else:
            items.pop()
        encoded = _bytes(body)
    return encoded


def _field(text: str) -> str:
    return text.replace("|", "/").replace("\r", " ").replace("\n", " ")


def text_line(entry: dict[str, Any]) -> str:
    fields = [entry["state"], entry["day"], entry["start"], entry["end"], entry["title"], ", ".join(entry["artists"])]
    return "|".join(_field(f) for f in fields)


def fit_text(items: list[dict[str, Any]], limit: int) -> bytes:
    """One line per item: state|day|start|end|title|artists."""
    lines = [text_line(i) for i in items]
    while lines and len("\n".join(lines).encode()) >= limit:
        if len(lines) > 1:
            lines.pop()
            continue
        line = lines[0]
        # Cut by characters until the UTF-8 bytes fit: a character is never split.
        while line and len(line.encode()) >= limit:
            line = line[: max(0, len(line) - max(1, (len(line.encode()) - limit) // 4 + 1))]
        lines[0] = line
    return "\n".join(lines).encode()
