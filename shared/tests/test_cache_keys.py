"""Cache keys hold only the parameters a route declares, in one spelling."""

from __future__ import annotations

import random
import string
from enum import StrEnum
from typing import Annotated, Literal

import httpx2
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware import Middleware

from tdc_shared.cache import CacheMiddleware, ResponseCache
from tdc_shared.i18n import Lang
from tdc_shared.pagination import ListPagination


class Colour(StrEnum):
    red = "red"
    blue = "blue"


async def _sorting(sort: Annotated[Literal["name", "date"], Query()] = "date") -> str:
    return sort


def _app() -> tuple[FastAPI, ResponseCache, list[str]]:
    cache = ResponseCache(ttl=60, max_entries=5000, max_age=30)
    seen: list[str] = []
    app = FastAPI(middleware=[Middleware(CacheMiddleware, cache=cache)])

    @app.get("/api/v1/things")
    async def things(
        request: Request,
        lang: Lang,
        page: ListPagination,
        sort: Annotated[str, Depends(_sorting)],
        featured: bool | None = None,
        colour: Colour | None = None,
        tag: Annotated[list[str] | None, Query()] = None,
        q: str | None = None,
    ) -> dict[str, object]:
        seen.append(request.url.query)
        return {
            "lang": lang,
            "page": page.page,
            "per_page": page.per_page,
            "sort": sort,
            "featured": featured,
            "colour": colour,
            "tag": tag,
            "q": q,
        }

    @app.get("/api/v1/things/{slug}")
    async def thing(slug: str) -> dict[str, str]:
        seen.append(slug)
        return {"slug": slug}

    @app.get("/api/v1/feed")
    async def feed(request: Request) -> Response:
        stamp = "Tue, 01 Dec 2026 10:00:00 GMT"
        return Response(b"feed", headers={"Last-Modified": stamp})

    @app.get("/api/v1/broken")
    async def broken() -> JSONResponse:
        return JSONResponse({"error": "no"}, status_code=500)

    return app, cache, seen


def _client(app: FastAPI) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t")


def _noise(rng: random.Random) -> str:
    name = "x" + "".join(rng.choices(string.ascii_lowercase, k=rng.randint(0, 12)))  # never a declared name
    value = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(0, 20)))
    return f"{name}={value}"


async def test_a_thousand_random_extra_parameters_leave_one_entry() -> None:
    app, cache, seen = _app()
    rng = random.Random(12)
    async with _client(app) as client:
        bodies = set()
        for _ in range(1000):
            extras = "&".join(_noise(rng) for _ in range(rng.randint(1, 4)))
            # Known names mixed in at random places must not count as noise, nor move the key.
            response = await client.get(
                f"/api/v1/things?{extras}&q=stars" if rng.random() < 0.5 else f"/api/v1/things?q=stars&{extras}"
            )
            assert response.status_code == 200
            bodies.add(response.content)
    things = [key for key in cache._entries if key[0] == "/api/v1/things"]
    assert things == [("/api/v1/things", b"q=stars", "en")]
    assert len(bodies) == 1 and len(seen) == 1
    assert seen == ["q=stars"]  # the app saw the normalised query, never the noise


async def test_order_defaults_spellings_and_enum_case_share_a_key() -> None:
    app, cache, seen = _app()
    same = [
        "/api/v1/things?featured=true&colour=red&sort=name",
        "/api/v1/things?sort=name&colour=RED&featured=True",
        "/api/v1/things?colour=Red&featured=1&sort=Name&page=1&per_page=20",
        "/api/v1/things?featured=yes&sort=name&colour=red&lang=en",
        "/api/v1/things?featured=false&featured=on&sort=NAME&colour=red&x=1",  # the last of a repeat wins
    ]
    async with _client(app) as client:
        answers = [await client.get(url) for url in same]
        assert [a.status_code for a in answers] == [200] * len(same)
        assert len({a.content for a in answers}) == 1
        assert answers[0].json() == {
            "lang": "en",
            "page": 1,
            "per_page": 20,
            "sort": "name",
            "featured": True,
            "colour": "red",
            "tag": None,
            "q": None,
        }
        assert len(seen) == 1
        # Free text keeps its case; repeated list parameters keep their order; ints one spelling.
        await client.get("/api/v1/things?q=Stars")
        await client.get("/api/v1/things?q=stars")
        await client.get("/api/v1/things?tag=b&tag=a")
        await client.get("/api/v1/things?tag=a&tag=b")
        await client.get("/api/v1/things?page=02&per_page=5")
        await client.get("/api/v1/things?per_page=5&page=2")
        assert len(seen) == 6
        # Each path keeps its own entries; language comes from the negotiated language.
        await client.get("/api/v1/things/one?noise=1")
        await client.get("/api/v1/things/one?noise=2")
        await client.get("/api/v1/things?lang=IT")
        await client.get("/api/v1/things", headers={"Accept-Language": "it"})
        assert len(seen) == 8
        # A value the app refuses is never stored, whatever its spelling.
        bad = await client.get("/api/v1/things?sort=size")
        assert bad.status_code == 422 and "etag" not in bad.headers
    assert ("/api/v1/things", b"", "it") in cache._entries


async def test_paths_without_a_route_and_errors_pass_through() -> None:
    app, cache, _ = _app()
    async with _client(app) as client:
        assert (await client.get("/api/v1/nothing-here?x=1")).status_code == 404
        assert (await client.get("/api/v1/broken")).status_code == 500
    assert len(cache) == 0


async def test_last_modified_answers_if_modified_since() -> None:
    app, _, _ = _app()
    async with _client(app) as client:
        first = await client.get("/api/v1/feed")
        assert first.headers["last-modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"
        same = await client.get("/api/v1/feed", headers={"If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT"})
        assert same.status_code == 304 and same.headers["last-modified"] == first.headers["last-modified"]
        later = await client.get("/api/v1/feed", headers={"If-Modified-Since": "Wed, 02 Dec 2026 10:00:00 GMT"})
        assert later.status_code == 304
        earlier = await client.get("/api/v1/feed", headers={"If-Modified-Since": "Mon, 30 Nov 2026 10:00:00 GMT"})
        assert earlier.status_code == 200 and earlier.content == b"feed"
        garbage = await client.get("/api/v1/feed", headers={"If-Modified-Since": "yesterday"})
        assert garbage.status_code == 200
        # If-None-Match takes precedence over If-Modified-Since.
        both = await client.get(
            "/api/v1/feed", headers={"If-None-Match": '"other"', "If-Modified-Since": "Wed, 02 Dec 2026 10:00:00 GMT"}
        )
        assert both.status_code == 200
