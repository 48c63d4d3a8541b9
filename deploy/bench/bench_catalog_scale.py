"""Catalog at scale: what one uncached request costs with 1,000 events and with 100,000.

Starts one catalog process per size (cache off, so every request runs its queries), each on a
fresh schema, fills them by bulk SQL with 1,000 and 100,000 events over the same span of time,
then sends each request below to both in turn (one keep-alive connection each, the sizes'
requests interleaved so the machine's load weighs on both alike) and prints the medians, their
ratio and the calendar feed's size; stops the processes and drops the schemas.

The events: five years of them, the last one a fifth upcoming (so 100,000 events are ~55 a
day), 2% drafts, 1% cancelled, three artists each out of 300, Italian titles and descriptions,
six locations. Titles are "<word> <series> Night" (2,000 words, 20 series names), and 60 evenly
spread special nights at either size add "Moonrise": `q=Moonrise` is the issue's `q=<word>`,
a word some events have however many others there are. `q=Ember` (a series name, 5% of all
events) is shown apart: a full-text search costs what its matches cost, 5,000 at 100,000.

Targets (issue 12): every list request at 100,000 within 2x of 1,000; the calendar feed under
100 ms and 1 MB at 100,000; a deep page (a cursor 95% down a 100,000-row list) within 2x of
page 1 of the same list. The staff list (`/api/v1/admin/events`, drafts included, with a staff
token the bench signs and serves the JWKS of) is held to the same two rules.

    python deploy/bench/bench_catalog_scale.py [--requests 40] [--sizes 1000,100000] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import mysql.connector
from bench_catalog import delete_bus_namespace, drop_schema, free_port, start, wait_ready  # same folder

from tdc_catalog.queries.admin_events import admin_scope, admin_sort_key
from tdc_catalog.queries.search import DOCUMENTS, FULLTEXT_INDEXES, rebuild_all_statements
from tdc_shared.db import MySQLAddress
from tdc_shared.pagination import encode_cursor
from tdc_shared.testing.keys import SigningKey, jwks

SPAN_DAYS = 5 * 365
UPCOMING_SHARE = 0.2
ARTISTS = 300
LOCATIONS = 6
SYLLABLES_A = tuple("lu ma ste vo ri ne ca do se ta bri mo fe la zo pi ve no gra sol".split())
SYLLABLES_B = tuple("lia ro nte vi dra mpa sci ndo gli ttra".split())
SYLLABLES_C = tuple("na sto me ri lo ve ga tu bo ce".split())
SERIES = tuple(
    "Aurora Nebula Lantern Driftwood Velvet Ember Tidal Mirage Cascade Solstice "
    "Obsidian Meridian Halcyon Quartz Saffron Zephyr Lumen Cobalt Juniper Marigold".split()
)
RARE_WORD = "Moonrise"  # the special nights: SPECIAL_NIGHTS of them at every size
SPECIAL_NIGHTS = 60
COMMON_WORD = SERIES[5]  # "Ember": 1 in 20 events
DIGITS = (
    "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 "
    "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
)
# 1 .. 100,000 without a recursive CTE (MySQL caps their depth at 1,000 by default).
SEQUENCE = (
    f"(SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 1 AS n "  # noqa: S608
    f"FROM {DIGITS} a, {DIGITS} b, {DIGITS} c, {DIGITS} e, {DIGITS} f) seq"
)


def _elt(expression: str, words: tuple[str, ...]) -> str:
    return f"ELT(1 + ({expression}), " + ", ".join(f"'{w}'" for w in words) + ")"


WORD = (
    f"CONCAT({_elt('n % 20', SYLLABLES_A)}, {_elt('(n DIV 20) % 10', SYLLABLES_B)}, "
    f"{_elt('(n DIV 200) % 10', SYLLABLES_C)})"
)
SERIES_WORD = _elt("(n DIV 7) % 20", SERIES)


def connect(mysql_url: str, schema: str):
    address = MySQLAddress.parse(mysql_url)
    return mysql.connector.connect(
        host=address.host, port=address.port, user=address.user, password=address.password, database=schema
    )


def fill(mysql_url: str, schema: str, count: int) -> float:
    """Empty the schema's catalog tables and load `count` events; returns the seconds it took."""
    started = time.monotonic()
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    first = now - timedelta(days=SPAN_DAYS * (1 - UPCOMING_SHARE))
    step_minutes = SPAN_DAYS * 24 * 60 / count
    conn = connect(mysql_url, schema)
    try:
        cursor = conn.cursor()
        # A bulk load: checks off for this session (the rows are consistent by construction).
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0, UNIQUE_CHECKS = 0")
        for table in (
            "event_search",
            "event_checkins",
            "event_artists",
            "event_translations",
            "events",
            "artist_translations",
            "artists",
            "location_translations",
            "locations",
        ):
            cursor.execute(f"TRUNCATE TABLE {table}")
        cursor.execute(
            "INSERT INTO locations (slug, name, mood_category, sort_order) "  # noqa: S608
            f"SELECT CONCAT('venue-', n), CONCAT('Venue ', n), 'hybrid', n FROM {SEQUENCE} WHERE n <= %s",
            (LOCATIONS,),
        )
        cursor.execute(
            "INSERT INTO artists (slug, name, genre) "  # noqa: S608
            f"SELECT CONCAT('artist-', n), CONCAT('DJ ', {WORD}, ' ', n), 'house' FROM {SEQUENCE} WHERE n <= %s",
            (ARTISTS,),
        )
        cursor.execute(
            "INSERT INTO events (uid, slug, status, title, subtitle, description, start_utc, end_utc, timezone, "  # noqa: S608
            "location_id, is_featured, sequence, published_at) "
            f"SELECT UUID(), CONCAT('bench-', n), IF(n % 50 = 0, 'draft', IF(n % 100 = 7, 'cancelled', 'published')), "
            f"CONCAT({WORD}, ' ', {SERIES_WORD}, IF(n % %s = 0, ' Moonrise', ''), ' Night'), 'A night at the cave', "
            "'Music, lights and friends in Second Life, from dusk until the sun comes up over the sim.', "
            "start_at, start_at + INTERVAL 3 HOUR, 'America/Los_Angeles', 1 + n % %s, n % 20 = 0, 1, %s "
            f"FROM (SELECT n, %s + INTERVAL FLOOR(n * %s) MINUTE AS start_at FROM {SEQUENCE} WHERE n <= %s) s",
            (max(1, count // SPECIAL_NIGHTS), LOCATIONS, now, first, step_minutes, count),
        )
        cursor.execute(
            "INSERT INTO event_translations (event_id, language, title, description) "
            "SELECT id, 'it', CONCAT('Serata ', title, ' alla grotta'), "
            "'Musica, luci e amici in Second Life, dal tramonto fino all''alba sulla sim.' FROM events"
        )
        cursor.execute(
            "INSERT INTO event_artists (event_id, artist_id, position, start_utc, is_public) "
            "SELECT e.id, 1 + (e.id + k.o) % %s, k.p, e.start_utc, e.is_public FROM events e "
            "CROSS JOIN (SELECT 0 AS o, 1 AS p UNION ALL SELECT 100, 2 UNION ALL SELECT 200, 3) k",
            (ARTISTS,),
        )
        conn.commit()
        # The search documents, by the service's own SQL. Full-text indexes are built far faster
        # over loaded rows (a sort) than row by row (~30 s against ~400 s for 100,000 events):
        # drop them, load, and add them back as migrations/0008 declares them.
        for index in FULLTEXT_INDEXES.values():
            cursor.execute(f"ALTER TABLE event_search DROP INDEX {index}")
        for statement in rebuild_all_statements():
            cursor.execute(statement)
        conn.commit()
        for code, index in FULLTEXT_INDEXES.items():
            cursor.execute(f"ALTER TABLE event_search ADD FULLTEXT KEY {index} ({DOCUMENTS[code]})")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1, UNIQUE_CHECKS = 1")
        cursor.execute("ANALYZE TABLE events, event_artists, event_search, event_translations")
        cursor.fetchall()
        cursor.close()
    finally:
        conn.close()
    return time.monotonic() - started


def row_at(mysql_url: str, schema: str, share: float, where: str, order: str) -> tuple[datetime | None, int]:
    """(start_utc, id) of the event `share` of the way down the events `where`, in `order`."""
    conn = connect(mysql_url, schema)
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM events {where}")  # noqa: S608 - the bench's constants
        (total,) = cursor.fetchone()
        cursor.execute(
            f"SELECT start_utc, id FROM events {where} ORDER BY {order} LIMIT 1 OFFSET %s",  # noqa: S608 - constants
            (int(total * share),),
        )
        start_utc, event_id = cursor.fetchone()
        cursor.close()
    finally:
        conn.close()
    return start_utc, event_id


def deep_cursor(mysql_url: str, schema: str, share: float) -> str:
    """The cursor of the event `share` of the way down the list of every public event by start."""
    start_utc, event_id = row_at(mysql_url, schema, share, "WHERE is_public = 1", "start_utc, id")
    assert start_utc is not None  # public events all have a start
    return encode_cursor("events", [start_utc.isoformat(timespec="microseconds"), event_id])


def admin_deep_cursor(mysql_url: str, schema: str, share: float) -> str:
    """The cursor of the event `share` of the way down the staff list (newest start first)."""
    start_utc, event_id = row_at(mysql_url, schema, share, "", "start_utc DESC, id DESC")
    return encode_cursor(admin_scope(None), admin_sort_key({"start_utc": start_utc, "id": event_id}))


def serve_jwks(key: SigningKey) -> http.server.ThreadingHTTPServer:
    """A small server (in a thread) the catalog fetches the bench's signing key from, at
    /api/v1/auth/jwks.json; `shutdown()` stops it."""
    body = json.dumps({"success": True, "data": jwks(key)}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Client:
    """One keep-alive connection to one catalog process."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[float, int]:
        """(milliseconds, body bytes) of one GET (with a staff token: the public routes ignore it)."""
        started = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
        return elapsed, len(body)

    def close(self) -> None:
        self.conn.close()


def interleaved(clients: list[Client], paths: list[str], requests: int) -> list[tuple[float, int]]:
    """(median ms, bytes) per client, its requests alternating with the others' so that the
    machine's load (shared, noisy) weighs on every size alike."""
    timings: list[list[float]] = [[] for _ in clients]
    sizes = [0] * len(clients)
    for n in range(requests + 3):  # three rounds to warm up
        for i, (client, path) in enumerate(zip(clients, paths, strict=True)):
            elapsed, sizes[i] = client.get(path)
            if n >= 3:
                timings[i].append(elapsed)
    return [(statistics.median(t), size) for t, size in zip(timings, sizes, strict=True)]


class _Recorder:
    """Stands in for a database session: keeps the SQL the service's query code sends."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[object]]] = []

    async def fetch_all(self, sql: str, params: object = None) -> list[dict[str, object]]:
        self.statements.append((sql, list(params or [])))
        return []

    async def fetch_value(self, sql: str, params: object = None) -> int:
        self.statements.append((sql, list(params or [])))
        return 0


def explain(mysql_url: str, schema: str) -> None:
    """EXPLAIN of each list's row query and count at this size, as the service writes them."""
    from tdc_catalog.queries import events as queries
    from tdc_catalog.queries import search

    conn = connect(mysql_url, schema)
    cursor = conn.cursor(dictionary=True)
    cursor.execute("SELECT id FROM artists WHERE slug = 'artist-42'")
    artist = cursor.fetchone()["id"]
    cursor.execute("SELECT id FROM locations WHERE slug = 'venue-3'")
    location = cursor.fetchone()["id"]
    cases = {
        "events (page 1)": queries.Filters(),
        "events?location=": queries.Filters(location_id=location),
        "events?artist=": queries.Filters(artist_id=artist),
        f"events?q={RARE_WORD}": queries.Filters(q=search.boolean_query([RARE_WORD]), language="it"),
    }
    print("\nEXPLAIN at this size (table:access:key:Extra), row query then capped count")
    for label, filters in cases.items():
        recorder = _Recorder()
        asyncio.run(queries.select_public(recorder, "it", filters, 21))  # type: ignore[arg-type]
        asyncio.run(queries.count_public(recorder, filters))  # type: ignore[arg-type]
        for sql, params in recorder.statements:
            cursor.execute("EXPLAIN " + sql, params)
            plan = " | ".join(
                f"{r['table']}:{r['type']}:{r['key']}:{(r['Extra'] or '').replace('Using ', '')}" for r in cursor
            )
            print(f"  {label:<22}{plan}")
    cursor.close()
    conn.close()


def requests_for(mysql_url: str, schema: str) -> dict[str, str]:
    since = quote((datetime.now(UTC) - timedelta(days=SPAN_DAYS + 10)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {
        "GET /api/v1/events?lang=it (page 1)": "/api/v1/events?lang=it",
        "GET /api/v1/events?artist=<slug>": "/api/v1/events?artist=artist-42",
        "GET /api/v1/events?location=<slug>": "/api/v1/events?location=venue-3",
        f"GET /api/v1/events?q={RARE_WORD}&lang=it": f"/api/v1/events?q={RARE_WORD}&lang=it",
        f"  q={COMMON_WORD} (5% of events)": f"/api/v1/events?q={COMMON_WORD}&lang=it",
        "GET /api/v1/events?from=<all>  page 1": f"/api/v1/events?from={since}",
        "  same, cursor 95% down (deep page)": f"/api/v1/events?from={since}&cursor="
        + deep_cursor(mysql_url, schema, 0.95),
        "GET /api/v1/calendar.ics": "/api/v1/calendar.ics",
        "GET /api/v1/admin/events (staff) page 1": "/api/v1/admin/events",
        "  same, cursor 95% down (staff deep page)": "/api/v1/admin/events?cursor="
        + admin_deep_cursor(mysql_url, schema, 0.95),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--explain", action="store_true", help="print the lists' query plans at the largest size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tag = uuid.uuid4().hex[:8]
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    base = {
        **os.environ,
        "TDC_ENV": "dev",
        "TDC_DEMO_DATA": "false",
        "TDC_CATALOG_CACHE_ENABLED": "false",
        "TDC_CATALOG_MEDIA_DIR": str(media),
        "TDC_LOG_LEVEL": "WARNING",
    }
    mysql_url = base.setdefault("TDC_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
    key = SigningKey.generate("bench")
    staff = key.token(sub=1, role="staff", ttl=3600)
    jwks_server = serve_jwks(key)
    base["TDC_JWKS_URL"] = f"http://127.0.0.1:{jwks_server.server_address[1]}/api/v1/auth/jwks.json"
    # One fresh schema and one catalog process (cache off) per size.
    schemas = [f"bench{tag}s{n}_catalog" for n in range(len(sizes))]
    processes: list[subprocess.Popen] = []
    clients: list[Client] = []
    try:
        ports = []
        for n in range(len(sizes)):
            env = {**base, "TDC_DB_PREFIX": f"bench{tag}s{n}_", "TDC_BUS_NAMESPACE": f"bench{tag}s{n}"}
            ports.append(free_port())
            processes.append(start("tdc_catalog.main:app", ports[-1], env))
        for port, process in zip(ports, processes, strict=True):
            wait_ready(f"http://127.0.0.1:{port}/healthz", process)
        for size, schema in zip(sizes, schemas, strict=True):
            seconds = fill(mysql_url, schema, size)
            print(f"filled {size:,} events in {seconds:.1f} s (bulk SQL)", flush=True)
        if args.explain:
            explain(mysql_url, schemas[-1])
        clients = [Client(port, staff) for port in ports]
        plans = [requests_for(mysql_url, schema) for schema in schemas]
        results: dict[str, list[tuple[float, int]]] = {}
        for label in plans[0]:
            results[label] = interleaved(clients, [plan[label] for plan in plans], args.requests)
    finally:
        for client in clients:
            client.close()
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for n, schema in enumerate(schemas):
            asyncio.run(drop_schema(mysql_url, schema))
            delete_bus_namespace(base, f"bench{tag}s{n}", ["catalog"])
        shutil.rmtree(media, ignore_errors=True)
        jwks_server.shutdown()
    small, large = sizes[0], sizes[-1]
    print(f"\nuncached median of {args.requests} requests per size, the sizes' requests interleaved (ms)")
    print(f"{'request':<46}{small:>10,}{large:>10,}{'ratio':>8}")
    met = True
    for label, figures in results.items():
        a, b = figures[0][0], figures[-1][0]
        judged = "calendar" not in label and "deep" not in label and "5%" not in label
        met = met and (not judged or b <= 2 * a)
        print(f"{label:<46}{a:>10.1f}{b:>10.1f}{b / a:>8.2f}{'' if judged else '  (not a 2x target)'}")
    feed_ms, feed_bytes = results["GET /api/v1/calendar.ics"][-1]
    deep = results["  same, cursor 95% down (deep page)"][-1][0]
    first = results["GET /api/v1/events?from=<all>  page 1"][-1][0]
    print(f"\ncalendar feed at {large:,}: {feed_ms:.1f} ms, {feed_bytes / 1e6:.2f} MB (targets < 100 ms, < 1 MB)")
    print(f"deep page / page 1 at {large:,}: {deep / first:.2f}x (target <= 2)")
    staff_deep = results["  same, cursor 95% down (staff deep page)"][-1][0]
    staff_first = results["GET /api/v1/admin/events (staff) page 1"][-1][0]
    print(f"staff list deep page / page 1 at {large:,}: {staff_deep / staff_first:.2f}x (target <= 2)")
    met = met and feed_ms < 100 and feed_bytes < 1_000_000 and deep <= 2 * first and staff_deep <= 2 * staff_first
    print("every target met" if met else "targets NOT all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
