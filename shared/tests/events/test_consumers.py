"""The event catalog's consumers are exactly the services whose handlers.py registers a handler.

Each consuming service keeps every handler in `tdc_<name>/handlers.py`, under module-level
`handlers` (HandlerRegistry: once per service, in a transaction with the inbox) and/or
`broadcast` (BroadcastRegistry: every replica). Both count as consuming the event.

Only what can already happen is held to the rule: an event whose producer's folder does not
exist yet cannot be published, so its listed consumers are checked once the producer lands; a
listed consumer whose folder does not exist yet is reported nowhere. A handler for an event
that does not list its service always fails.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tdc_shared.cache import ResponseCache
from tdc_shared.events import EVENTS, BroadcastRegistry, HandlerRegistry
from tdc_shared.events.revocations import TOKENS_REVOKED

ROOT = Path(__file__).resolve().parents[3]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


def registered(service: str) -> set[str]:
    """Event types the service's handlers.py registers anything for (empty without one)."""
    if not (ROOT / "services" / service / f"tdc_{service}" / "handlers.py").exists():
        return set()
    module = importlib.import_module(f"tdc_{service}.handlers")
    registries = [getattr(module, name, None) for name in ("handlers", "broadcast")]
    # A broadcast registry may be built per app around the app's response cache.
    registries = [
        r(ResponseCache(ttl=1, max_entries=1, max_age=1)) if callable(r) and not isinstance(r, BroadcastRegistry) else r
        for r in registries
    ]
    found = [r for r in registries if isinstance(r, (HandlerRegistry, BroadcastRegistry))]
    assert found, f"tdc_{service}.handlers has neither `handlers` nor `broadcast` registry"
    return {event_type for registry in found for event_type in registry.event_types}


@pytest.mark.parametrize("service", SERVICES)
def test_every_handler_is_for_an_event_that_lists_the_service(service: str):
    unlisted = sorted(t for t in registered(service) if service not in EVENTS[t].consumers)
    assert unlisted == [], f"{service} handles events whose catalog entry does not list it as a consumer"


@pytest.mark.parametrize("service", SERVICES)
def test_every_listed_consumer_handles_the_event(service: str):
    # Token revocations reach every process through the bus's own broadcast (tdc_shared.events.revocations).
    expected = sorted(
        t
        for t, spec in EVENTS.items()
        if service in spec.consumers and spec.producer in SERVICES and t != TOKENS_REVOKED
    )
    missing = sorted(set(expected) - registered(service))
    assert missing == [], f"the event catalog lists {service} as a consumer of these, but it registers no handler"


def test_the_catalog_names_only_known_services():
    known = {"auth", "catalog", "blog", "membership", "notification", "integration"}
    for spec in EVENTS.values():
        assert spec.producer in known, spec.type
        # The gateway has no handlers.py: it hears token revocations through its own listener.
        allowed = known | {"gateway"} if spec.type == TOKENS_REVOKED else known
        assert set(spec.consumers) <= allowed, spec.type


def test_the_catalog_service_drops_its_cache_on_its_own_events():
    # What the rule above checks, seen from one service: the catalog's replicas hear its own events.
    produced = {t for t, spec in EVENTS.items() if spec.producer == "catalog"}
    assert produced <= registered("catalog")
