"""The in-process cache of public answers, kept as the exact bytes that go on the wire.

A hit costs a dict lookup and two `send` calls: no routing, no dependency injection, no
database, no JSON encoding. Entries are keyed by (path, query string, negotiated language),
carry an ETag (a hash of the bytes) and answer `If-None-Match` with 304.

Invalidation is all-or-nothing: writes are rare next to reads and an answer can depend on
several tables (an event list shows artists and locations), so any committed write clears the
whole cache here, and the service's own bus events clear it in every other replica. A
generation counter stops an answer computed before a clear from being stored after it.

Only answers that are the same for every caller may be kept. A service whose answers depend on
who asks (the blog locks gated posts) sets `bypass_authorized`: a request carrying an
`Authorization` header is then never served from the cache nor stored in it, so one caller's
standing can never reach another.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tdc_shared.i18n import LANGUAGES, negotiate_language

Key = tuple[str, bytes, str]


@dataclass(frozen=True, slots=True)
class Entry:
    start: Message
    body: Message
    etag: bytes
    not_modified: Message
    expires: float
    route: object = None


class ResponseCache:
    def __init__(self, *, ttl: float, max_entries: int, max_age: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.cache_control = f"public, max-age={max_age}".encode()
        self.generation = 0
        self.bytes = 0
        self._entries: dict[Key, Entry] = {}
        # Answers being computed: requests for the same key wait for them instead of all
        # querying the database at once right after a write emptied the cache.
        self.inflight: dict[Key, asyncio.Future[Entry | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._forget(key)
            return None
        return entry

    def _forget(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= len(entry.body["body"])

    def store(
        self, key: Key, generation: int, headers: list[tuple[bytes, bytes]], body: bytes, route: object = None
    ) -> Entry:
        etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
        common = [(b"etag", etag), (b"cache-control", self.cache_control), (b"vary", b"Accept-Language")]
        kept = [(k, v) for k, v in headers if k not in (b"etag", b"cache-control", b"vary", b"content-length")]
        entry = Entry(
            start={
                "type": "http.response.start",
                "status": 200,
                "headers": [*kept, (b"content-length", str(len(body)).encode()), *common],
            },
            body={"type": "http.response.body", "body": body},
            etag=etag,
            not_modified={"type": "http.response.start", "status": 304, "headers": common},
            expires=time.monotonic() + self.ttl,
            route=route,
        )
        if generation == self.generation and len(body) <= self.max_bytes // 4:
            self._forget(key)
            # Oldest first (dicts keep insertion order), within both an entry and a byte budget:
            # query strings are the client's to vary.
            while self._entries and (len(self._entries) >= self.max_entries or self.bytes + len(body) > self.max_bytes):
                self._forget(next(iter(self._entries)))
            self._entries[key] = entry
            self.bytes += len(body)
        return entry

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self.bytes = 0
        # Requests arriving from now on must not be handed an answer computed before the write.
        self.inflight = {}


_EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


def etag_matches(header: bytes | None, etag: bytes) -> bool:
    if not header:
        return False
    if header.strip() == b"*":
        return True
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


async def _answer(send: Send, entry: Entry, if_none_match: bytes | None) -> None:
    # Shallow copies: outer middleware may replace a message's header list (request ids).
    if etag_matches(if_none_match, entry.etag):
        await send(dict(entry.not_modified))
        await send(dict(_EMPTY_BODY))
    else:
        await send(dict(entry.start))
        await send(entry.body)


class CacheMiddleware:
    """Serves cached public GETs; on a miss, lets the app answer and keeps a 200's bytes."""

    def __init__(
        self,
        app: ASGIApp,
        cache: ResponseCache,
        prefix: str = "/api/v1/",
        excluded: tuple[str, ...] = ("/api/v1/admin/",),
        bypass_authorized: bool = False,
    ) -> None:
        self.app = app
        self.cache = cache
        self.prefix = prefix
        self.excluded = excluded
        self.bypass_authorized = bypass_authorized
        self._languages: dict[bytes, str] = {}

    def _language(self, query: bytes, accept: bytes | None) -> str | None:
        if b"lang=" in query:
            values = parse_qs(query.decode("latin-1")).get("lang")
            if values:
                code = values[0].strip().lower()
                # An unknown language is the app's to refuse (422), not ours to cache.
                return code if code in LANGUAGES else None
        if not accept:
            return "en"
        lang = self._languages.get(accept)
        if lang is None:
            lang = negotiate_language(None, accept.decode("latin-1"))
            if len(self._languages) < 1024:
                self._languages[accept] = lang
        return lang

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(self.prefix) or path.startswith(self.excluded):
            await self.app(scope, receive, send)
            return
        accept = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"accept-language":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"authorization" and self.bypass_authorized:
                await self.app(scope, receive, send)
                return
        query: bytes = scope["query_string"]
        lang = self._language(query, accept)
        if lang is None:
            await self.app(scope, receive, send)
            return
        key = (path, query, lang)
        entry = self.cache.get(key)
        if entry is not None:
            # The route template labels the request's metrics, as on a miss.
            scope["route"] = entry.route
            await _answer(send, entry, if_none_match)
            return
        pending = self.cache.inflight.get(key)
        if pending is not None:
            entry = await asyncio.shield(pending)
            if entry is not None:
                scope["route"] = entry.route
                await _answer(send, entry, if_none_match)
                return
            # The first request got an error or an uncacheable answer: compute our own.
            await self.app(scope, receive, send)
            return
        inflight = self.cache.inflight
        pending = asyncio.get_running_loop().create_future()
        inflight[key] = pending
        entry = None
        try:
            entry = await self._fill(key, scope, receive, send, if_none_match)
        finally:
            if inflight.get(key) is pending:
                del inflight[key]
            pending.set_result(entry)

    async def _fill(
        self, key: Key, scope: Scope, receive: Receive, send: Send, if_none_match: bytes | None
    ) -> Entry | None:
        generation = self.cache.generation
        start: Message | None = None
        chunks: list[bytes] = []
        stored: list[Entry] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    start = None
                    await send(message)
                    return
                start = message
                return
            if start is None:  # not cacheable: pass through as it comes
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            entry = self.cache.store(key, generation, list(start["headers"]), b"".join(chunks), scope.get("route"))
            stored.append(entry)
            await _answer(send, entry, if_none_match)

        await self.app(scope, receive, capture)
        return stored[0] if stored else None
