"""The in-process cache of public answers, kept as the exact bytes that go on the wire.

A hit costs a dict lookup and two `send` calls: no routing, no dependency injection, no
database, no JSON encoding. Entries are keyed by (path, query string, negotiated language),
carry an ETag (a hash of the bytes) and answer `If-None-Match` with 304.

Invalidation is all-or-nothing: writes are rare next to reads and an answer can depend on
several tables (an event list shows artists and locations), so any committed write clears the
whole cache here, and the service's own bus events clear it in every other replica. A
generation counter stops an answer computed before a clear from being stored after it.

Keys hold only the query parameters the matched route declares (found in the app's routes on
the first request, sub-dependencies included), normalised: sorted by name, the last value of a
repeated scalar, a value equal to the declared default dropped, booleans and integers in one
spelling, enum values (a `Literal`/`Enum` or a declared `enum` of lower-case strings) lower
case. Unknown parameters are ignored: dropped from the key and from the query string the app
sees, which is rewritten to the normalised form, so two requests with one key get one answer
by construction and random `?x=` values cannot flood the cache. (The language parameter is
left out of the key's query part: the negotiated language is already in the key.) A cached
route must therefore declare every query parameter it reads.

`Last-Modified` set by a route is kept with the entry and `If-Modified-Since` answered with 304
when no `If-None-Match` came (which takes precedence, RFC 9110 13.1.3).

Only answers that are the same for every caller may be kept. A service whose answers depend on
who asks (the blog locks gated posts) sets `bypass_authorized`: a request carrying an
`Authorization` header is then never served from the cache nor stored in it, so one caller's
standing can never reach another.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import re
import time
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlencode

from fastapi.routing import APIRoute
from starlette.routing import compile_path
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
    last_modified: datetime | None = None


def etag_of(body: bytes) -> bytes:
    """The strong ETag the cache gives `body` (routes answering 304 themselves use it too)."""
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def http_date(value: bytes | str | None) -> datetime | None:
    """An HTTP date (`Last-Modified`, `If-Modified-Since`), or None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


def not_modified_since(if_modified_since: bytes | str | None, last_modified: datetime | None) -> bool:
    since = http_date(if_modified_since)
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since


# -- Which query parameters a route declares, and their one spelling ------------------------

Kind = Literal["text", "int", "bool", "enum"]
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    kind: Kind
    multiple: bool = False
    default: str | None = None  # normalised; a value equal to it is the same as none

    def normalise(self, value: str) -> str:
        if self.kind == "bool":
            lowered = value.strip().lower()
            return "true" if lowered in _TRUE else "false" if lowered in _FALSE else value
        if self.kind == "int":
            try:
                return str(int(value.strip()))
            except ValueError:
                return value
        if self.kind == "enum":
            return value.strip().lower()
        return value


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the inner type without None, whether it is a list) of a query parameter's annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return _unwrap(inner[0])
        return annotation, False
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return (args[0] if args else str), True
    return annotation, False


def _enum_values(annotation: Any, extra: Any) -> list[Any] | None:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    if isinstance(extra, dict) and isinstance(extra.get("enum"), list):
        return list(extra["enum"])
    return None


def _kind(annotation: Any, extra: Any) -> Kind:
    values = _enum_values(annotation, extra)
    if values and all(isinstance(v, str) and v == v.lower() for v in values):
        return "enum"
    if annotation is bool:
        return "bool"
    if isinstance(annotation, type) and issubclass(annotation, int) and not issubclass(annotation, enum.Enum):
        return "int"
    return "text"


def _default_text(default: Any) -> str | None:
    if default is None or isinstance(default, (list, tuple, set)) or type(default).__name__ == "PydanticUndefinedType":
        return None
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, enum.Enum):
        default = default.value
    return str(default)


def _fields(dependant: Any) -> Iterator[Any]:
    yield from getattr(dependant, "query_params", ())
    for sub in getattr(dependant, "dependencies", ()):
        yield from _fields(sub)


def declared_query(route: APIRoute) -> tuple[QueryParam, ...]:
    """The query parameters `route` reads (its own and its dependencies'), in name order."""
    found: dict[str, QueryParam] = {}
    for field in _fields(route.dependant):
        info = field.field_info
        annotation, multiple = _unwrap(info.annotation)
        param = QueryParam(field.alias, _kind(annotation, info.json_schema_extra), multiple)
        default = _default_text(info.default)
        if default is not None and not multiple:
            param = QueryParam(param.name, param.kind, False, param.normalise(default))
        found[param.name] = param
    return tuple(found[name] for name in sorted(found))


def get_routes(app: Any) -> list[tuple[re.Pattern[str], tuple[QueryParam, ...]]]:
    """(path pattern, declared query parameters) of every GET route of `app`, in routing order."""
    routes: list[tuple[str | None, Any, Any]] = []
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x includes routers lazily
    except ImportError:  # pragma: no cover - older FastAPI flattens them into app.routes
        routes = [(r.path, r, r.methods) for r in getattr(app, "routes", ())]
    else:
        routes = [(c.path, c.original_route, c.methods) for c in iter_route_contexts(getattr(app, "routes", ()))]
    found: list[tuple[re.Pattern[str], tuple[QueryParam, ...]]] = []
    for path, route, methods in routes:
        if isinstance(route, APIRoute) and path and "GET" in (methods or route.methods or ()):
            pattern, _, _ = compile_path(path)
            found.append((pattern, declared_query(route)))
    return found


def normalise_query(params: Iterable[QueryParam], query: bytes) -> bytes:
    """`query` holding only `params`, each in one spelling, sorted, defaults dropped."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        values.setdefault(name, []).append(value)
    kept: list[tuple[str, str]] = []
    for param in params:
        given = values.get(param.name)
        if not given:
            continue
        if param.multiple:
            kept += [(param.name, param.normalise(v)) for v in given]
            continue
        value = param.normalise(given[-1])  # Starlette reads the last of a repeated parameter
        if value != param.default:
            kept.append((param.name, value))
    return urlencode(kept).encode("latin-1")


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
        etag = etag_of(body)
        common = [(b"etag", etag), (b"cache-control", self.cache_control), (b"vary", b"Accept-Language")]
        kept = [(k, v) for k, v in headers if k not in (b"etag", b"cache-control", b"vary", b"content-length")]
        last_modified = next((v for k, v in kept if k == b"last-modified"), None)
        if last_modified is not None:
            common.append((b"last-modified", last_modified))
            kept = [(k, v) for k, v in kept if k != b"last-modified"]
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
            last_modified=http_date(last_modified),
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


async def _answer(send: Send, entry: Entry, if_none_match: bytes | None, if_modified_since: bytes | None) -> None:
    # Shallow copies: outer middleware may replace a message's header list (request ids).
    if (
        etag_matches(if_none_match, entry.etag)
        if if_none_match is not None
        else not_modified_since(if_modified_since, entry.last_modified)
    ):
        await send(dict(entry.not_modified))
        await send(dict(_EMPTY_BODY))
    else:
        await send(dict(entry.start))
        await send(entry.body)


MAX_REMEMBERED_PATHS = 4096
MAX_REMEMBERED_QUERIES = 8192


class CacheMiddleware:
    """Serves cached public GETs; on a miss, lets the app answer and keeps a 200's bytes."""

    def __init__(
        self,
        app: ASGIApp,
        cache: ResponseCache,
        prefix: str = "/api/v1/",
        excluded: tuple[str, ...] = ("/api/v1/admin/",),
        bypass_authorized: bool = False,
        language_param: str = "lang",
    ) -> None:
        self.app = app
        self.cache = cache
        self.prefix = prefix
        self.excluded = excluded
        self.bypass_authorized = bypass_authorized
        self.language_param = language_param
        self._languages: dict[bytes, str] = {}
        self._routes: list[tuple[re.Pattern[str], tuple[QueryParam, ...]]] | None = None
        # path -> the declared parameters of the GET route it matches (None: no such route).
        self._declared: dict[str, tuple[QueryParam, ...] | None] = {}
        # (path, query string as sent) -> (the query the app sees, the key's part of it).
        self._normalised: dict[tuple[str, bytes], tuple[bytes, bytes]] = {}

    def _declared_for(self, scope: Scope) -> tuple[QueryParam, ...] | None:
        path: str = scope["path"]
        if path in self._declared:
            return self._declared[path]
        if self._routes is None:
            self._routes = get_routes(scope.get("app"))
        found = next((params for pattern, params in self._routes if pattern.match(path)), None)
        if len(self._declared) >= MAX_REMEMBERED_PATHS:
            self._declared.clear()
        self._declared[path] = found
        return found

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
        accept = if_none_match = if_modified_since = None
        for name, value in scope["headers"]:
            if name == b"accept-language":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"if-modified-since":
                if_modified_since = value
            elif name == b"authorization" and self.bypass_authorized:
                await self.app(scope, receive, send)
                return
        declared = self._declared_for(scope)
        if declared is None:  # no GET route here: the app answers 404/405, never cached
            await self.app(scope, receive, send)
            return
        raw: bytes = scope["query_string"]
        known = self._normalised.get((path, raw))
        if known is None:
            normalised = normalise_query(declared, raw) if raw else b""
            known = (normalised, self._without_language(declared, normalised))
            if len(self._normalised) >= MAX_REMEMBERED_QUERIES:
                self._normalised.clear()
            self._normalised[(path, raw)] = known
        query, key_query = known
        # The app reads exactly what the key holds.
        scope["query_string"] = query
        lang = self._language(query, accept)
        if lang is None:
            await self.app(scope, receive, send)
            return
        key = (path, key_query, lang)
        entry = self.cache.get(key)
        if entry is not None:
            # The route template labels the request's metrics, as on a miss.
            scope["route"] = entry.route
            await _answer(send, entry, if_none_match, if_modified_since)
            return
        pending = self.cache.inflight.get(key)
        if pending is not None:
            entry = await asyncio.shield(pending)
            if entry is not None:
                scope["route"] = entry.route
                await _answer(send, entry, if_none_match, if_modified_since)
                return
            # The first request got an error or an uncacheable answer: compute our own.
            await self.app(scope, receive, send)
            return
        inflight = self.cache.inflight
        pending = asyncio.get_running_loop().create_future()
        inflight[key] = pending
        entry = None
        try:
            entry = await self._fill(key, scope, receive, send, if_none_match, if_modified_since)
        finally:
            if inflight.get(key) is pending:
                del inflight[key]
            pending.set_result(entry)

    def _without_language(self, declared: tuple[QueryParam, ...], query: bytes) -> bytes:
        if not any(p.name == self.language_param for p in declared) or self.language_param.encode() not in query:
            return query
        others = [p for p in declared if p.name != self.language_param]
        return normalise_query(others, query)

    async def _fill(
        self,
        key: Key,
        scope: Scope,
        receive: Receive,
        send: Send,
        if_none_match: bytes | None,
        if_modified_since: bytes | None = None,
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
            await _answer(send, entry, if_none_match, if_modified_since)

        await self.app(scope, receive, capture)
        return stored[0] if stored else None
