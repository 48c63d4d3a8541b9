"""GET /api/v1/admin/dashboard: one page of figures for the club's admins, composed from the
summary route of each service that owns the figures.

The gateway owns no data, so each section is a request to its service, made with the admin's
own token (the service checks it again and decides), all sections at once, under one short
deadline. A section whose service is down, slow or refuses comes back as null with the reason
in `meta.sections`, so one sick service never blanks the whole dashboard.

A new service adds its section here: a name and the path of its summary route. The URL comes
from the routing table, like every proxied request.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from .table import RoutingTable


@dataclass(frozen=True)
class Section:
    name: str
    path: str  # the service's own summary route, as the gateway exposes it


SECTIONS = (
    Section("users", "/api/v1/admin/users/summary"),
    Section("catalog", "/api/v1/admin/events/summary"),
    Section("membership", "/api/v1/admin/patreon/summary"),
    Section("notifications", "/api/v1/admin/notifications/summary"),
    Section("blog", "/api/v1/admin/blog/summary"),
    Section("integrations", "/api/v1/admin/integrations/summary"),
)

# A summary is a few hundred bytes; anything this big is not one.
MAX_SECTION_BYTES = 256 * 1024


@dataclass(frozen=True)
class SectionResult:
    data: Any
    state: dict[str, Any]


class Dashboard:
    def __init__(
        self,
        table: RoutingTable,
        session: aiohttp.ClientSession,
        deadline_seconds: float,
        sections: tuple[Section, ...] = SECTIONS,
    ) -> None:
        self.table = table
        self.session = session
        self.deadline = deadline_seconds
        self.sections = sections

    async def compose(self, authorization: str, lang: str, request_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(data, meta): each section's data (None when it failed) and each section's state."""
        headers = {"Authorization": authorization, "X-Request-Id": request_id, "Accept": "application/json"}
        results = await asyncio.gather(*(self._fetch(s, headers, lang) for s in self.sections))
        data = {s.name: r.data for s, r in zip(self.sections, results, strict=True)}
        meta = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "sections": {s.name: r.state for s, r in zip(self.sections, results, strict=True)},
        }
        return data, meta

    async def _fetch(self, section: Section, headers: dict[str, str], lang: str) -> SectionResult:
        route = self.table.match(section.path)
        if route is None or route.local:
            return _failed("error", f"no service is routed for {section.path}")
        service = route.service
        timeout = aiohttp.ClientTimeout(
            total=min(self.deadline, route.response_timeout), sock_connect=route.connect_timeout
        )
        try:
            async with self.session.get(
                route.upstream + section.path, params={"lang": lang}, headers=headers, timeout=timeout
            ) as response:
                raw = await _read_capped(response)
                status = response.status
        except TimeoutError:
            return _failed("unavailable", f"{service} did not answer within {timeout.total:g} s", service)
        except aiohttp.ClientError:
            return _failed("unavailable", f"{service} is unreachable", service)
        body = _envelope(raw)
        if body is None:
            return _failed("error", f"{service} answered {status} without the JSON envelope", service, status)
        if status != 200 or body.get("success") is not True:
            error = body.get("error")
            message = error if isinstance(error, str) else f"{service} answered {status}"
            return _failed("error", message, service, status)
        return SectionResult(body.get("data"), {"status": "ok", "service": service})


async def _read_capped(response: aiohttp.ClientResponse) -> bytes | None:
    """The whole body, or None past MAX_SECTION_BYTES (read() alone may stop at any chunk)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_SECTION_BYTES:
            return None
    return bytes(body)


def _envelope(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _failed(kind: str, message: str, service: str | None = None, http_status: int | None = None) -> SectionResult:
    state: dict[str, Any] = {"status": kind, "error": message}
    if service is not None:
        state["service"] = service
    if http_status is not None:
        state["http_status"] = http_status
    return SectionResult(None, state)
