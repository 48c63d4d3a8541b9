"""The catalog is the only source of event types: every publish call in the tree is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tdc_shared.events import EVENTS, Event, HandlerRegistry, UnknownEvent, publish
from tdc_shared.events.envelope import EVENT_TYPE_PATTERN

ROOT = Path(__file__).resolve().parents[3]
PUBLISH_CALL = re.compile(r"""\bpublish\(\s*\w+\s*,\s*["']([^"']+)["'](?P<rest>[^)]*)""", re.S)
SOURCE = re.compile(r"""source\s*=\s*["'](\w+)["']""")


def publish_calls() -> list[tuple[str, str, str | None]]:
    calls = []
    for folder in ("services", "shared", "gateway"):
        for path in (ROOT / folder).rglob("*.py"):
            if ".venv" in path.parts or "tests" in path.parts:
                continue  # tests publish unlisted types on purpose, to see them refused
            for match in PUBLISH_CALL.finditer(path.read_text(encoding="utf-8")):
                source = SOURCE.search(match.group("rest"))
                calls.append((str(path.relative_to(ROOT)), match.group(1), source.group(1) if source else None))
    return calls


def test_every_published_type_is_in_the_catalog_with_its_producer():
    calls = publish_calls()
    assert calls, "the scan found no publish(...) call at all: the pattern is broken"
    unknown = [(path, t) for path, t, _ in calls if t not in EVENTS]
    assert unknown == [], "publish() of event types missing from tdc_shared/events/catalog.py"
    wrong_source = [(path, t, s) for path, t, s in calls if s is not None and EVENTS[t].producer != s]
    assert wrong_source == []


def test_catalog_entries_are_well_formed():
    for name, spec in EVENTS.items():
        assert name == spec.type
        assert re.fullmatch(EVENT_TYPE_PATTERN, name), name
        Event(type=name, source=spec.producer)  # the envelope accepts every listed type
        assert name.split(".")[0] == spec.producer, f"{name}: the routing key starts with its producer's context"
        assert spec.consumers and spec.fields


class _RecordingSession:
    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple]] = []

    async def execute(self, sql: str, params: tuple) -> int:
        self.statements.append((sql, params))
        return 1


async def test_publish_refuses_unlisted_types_and_foreign_producers():
    tx = _RecordingSession()
    with pytest.raises(UnknownEvent):
        await publish(tx, "catalog.event.exploded", {}, source="catalog")
    with pytest.raises(ValueError, match="produced by catalog"):
        await publish(tx, "catalog.event.published", {}, source="blog")
    assert tx.statements == []
    with pytest.raises(UnknownEvent):
        HandlerRegistry().on("nobody.sends.this")


def test_envelope_is_a_tolerant_reader():
    event = Event(type="catalog.event.published", source="catalog", data={"id": 1})
    raw = event.to_json().replace('"source"', '"added_by_a_newer_producer": 1, "source"')
    assert Event.from_json(raw) == event
