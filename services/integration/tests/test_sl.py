"""The Second Life API, called as a script calls it: simulator headers, text/plain bodies,
UTF-8, base64 llHMAC signatures; every refusal; answers under 2,048 bytes."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from integration_testkit import catalog_producer, snapshot, wait_until
from lsl_client import LslObject, ll_hmac

from tdc_integration.routes.sl import code_hash
from tdc_shared.events import publish

OWNER = "a2e76fcd-9360-4f6d-a924-000000000001"


def unique_location() -> str:
    return f"venue-{uuid.uuid4().hex[:8]}"


async def register(harness, purpose: str, location: str, owner: str = OWNER) -> LslObject:
    answer = await harness.client.post(
        "/api/v1/admin/integrations/sl/objects",
        json={"name": f"{purpose} object", "purpose": purpose, "location": location, "owner_key": owner},
        headers=harness.admin,
    )
    assert answer.status_code == 201, answer.text
    data = answer.json()["data"]
    return LslObject(harness.client, data["id"], data["secret"], owner_key=owner)


def test_ll_hmac_matches_the_wiki_vector():
    assert ll_hmac("secret key", "Hello, Avatar!", "sha1") == "ffCDntkagRO5mIEtd2tYzM2Bg8I="


async def test_registering_shows_the_secret_once_and_keeps_it_encrypted(harness):
    obj = await register(harness, "board", unique_location())
    listed = await harness.client.get("/api/v1/admin/integrations/sl/objects?per_page=100", headers=harness.admin)
    mine = next(o for o in listed.json()["data"] if o["id"] == obj.object_id)
    assert "secret" not in mine and obj.secret not in listed.text
    assert mine["object_key"] is None  # bound on the first valid request
    stored = await harness.db.fetch_value("SELECT secret_ciphertext FROM sl_objects WHERE id = %s", (obj.object_id,))
    assert obj.secret not in stored and harness.app.state.secret_box.open(stored) == obj.secret
    one = await harness.client.get(f"/api/v1/admin/integrations/sl/objects/{obj.object_id}", headers=harness.admin)
    assert one.status_code == 200 and "secret" not in one.json()["data"]
    missing = await harness.client.get("/api/v1/admin/integrations/sl/objects/slo_nope", headers=harness.admin)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "purpose": "dancer", "location": "main", "owner_key": OWNER},
        {"name": "x", "purpose": "board", "location": "Main Stage", "owner_key": OWNER},
        {"name": "x", "purpose": "board", "location": "main", "owner_key": "not-a-key"},
        {"name": "", "purpose": "board", "location": "main", "owner_key": OWNER},
        {"name": "x", "purpose": "board", "location": "main", "owner_key": OWNER, "secret": "mine"},
    ],
)
async def test_registration_input_is_checked(harness, body):
    answer = await harness.client.post("/api/v1/admin/integrations/sl/objects", json=body, headers=harness.admin)
    assert answer.status_code == 422 and answer.json()["success"] is False


async def test_sl_admin_routes_are_for_admins(harness):
    for path in ("/api/v1/admin/integrations/sl/objects", "/api/v1/admin/integrations/sl/checkins"):
        assert (await harness.client.get(path, headers=harness.staff)).status_code == 403
        assert (await harness.client.get(path)).status_code == 401


async def test_the_board_shows_now_and_next_in_second_life_time(harness):
    location = unique_location()
    now = datetime.now(UTC).replace(microsecond=0)
    playing = snapshot(location=location, start=now - timedelta(minutes=30), hours=2, title="Now Playing")
    later = snapshot(location=location, start=datetime(2031, 7, 4, 3, 0, tzinfo=UTC), title="Fireworks")
    elsewhere = snapshot(location=unique_location(), title="Not here")
    for snap in (playing, later, elsewhere):
        await harness.send("catalog.event.published", snap)
    board = await register(harness, "board", location)
    answer = await board.get(f"/api/v1/sl/board?location={location}")
    assert answer.status_code == 200, answer.text
    assert b": " not in answer.content and b", " not in answer.content.replace(b"DJ Aurora", b"")  # compact
    data = answer.json()["data"]
    assert data["tz"] == "SLT" and [i["title"] for i in data["items"]] == ["Now Playing", "Fireworks"]
    assert data["items"][0]["state"] == "now" and data["items"][1]["state"] == "next"
    # 2031-07-04 03:00 UTC is 20:00 on the 3rd in Second Life time (PDT).
    assert (data["items"][1]["day"], data["items"][1]["start"], data["items"][1]["end"]) == (
        "2031-07-03",
        "20:00",
        "22:00",
    )
    assert data["items"][0]["artists"] == ["DJ Aurora", "Nightingale"]

    italian = await board.get(f"/api/v1/sl/board?location={location}&lang=it")
    assert italian.json()["data"]["items"][1]["title"] == "Fireworks (it)"
    default_location = await board.get("/api/v1/sl/board")  # the location the object stands in
    assert default_location.json()["data"]["location"] == location
    text = await board.get(f"/api/v1/sl/board?location={location}&format=text")
    assert text.headers["content-type"].startswith("text/plain")
    started, ends = _slt(playing["start_utc"], "%Y-%m-%d|%H:%M"), _slt(playing["end_utc"], "%H:%M")
    assert text.text.splitlines() == [
        f"now|{started}|{ends}|Now Playing|DJ Aurora, Nightingale",
        "next|2031-07-03|20:00|22:00|Fireworks|DJ Aurora, Nightingale",
    ]
    bad_lang = await board.get("/api/v1/sl/board?lang=de")
    assert bad_lang.status_code == 422 and "lang" in bad_lang.json()["errors"]


def _slt(value: str, fmt: str) -> str:
    from zoneinfo import ZoneInfo

    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(ZoneInfo("America/Los_Angeles")).strftime(fmt)


LONG_TITLES = {
    "en": "The Extraordinarily Long Midwinter Night of Ambient Dreams " * 6,
    "it": "La straordinariamente lunga notte di sogni d'inverno, à la carte " * 6,
    "fr": "Très longue nuit d'hiver: rêves électroniques, à l'aube 🌙 " * 6,
    "es": "La noche más larga del invierno: ñandú, acción y canción 🎶 " * 6,
}


async def test_answers_stay_under_2048_bytes_with_long_multilingual_titles(harness):
    location = unique_location()
    start = datetime.now(UTC) + timedelta(days=2)
    for n in range(8):
        translations = {lang: {"title": f"{n} {title}"} for lang, title in LONG_TITLES.items()}
        translations["ja"] = {"title": "夢の洞窟"}
        artists = [f"DJ 夢見る人 {i} 🎧" for i in range(6)]
        snap = snapshot(
            location=location, start=start + timedelta(hours=n * 3), translations=translations, artists=artists
        )
        await harness.send("catalog.event.published", snap)
    board = await register(harness, "board", location)
    for lang in ("en", "it", "fr", "es"):
        for output in ("json", "text"):
            answer = await board.get(f"/api/v1/sl/board?lang={lang}&format={output}")
            assert answer.status_code == 200
            assert len(answer.content) < 2048, (lang, output, len(answer.content))
            answer.content.decode("utf-8")  # never a character cut in half
            if output == "json":
                data = answer.json()["data"]
                assert data["truncated"] is True and 1 <= len(data["items"]) < 5
                assert data["items"][0]["title"].startswith("0 ")

    # One event whose title alone is far over the limit: shortened by whole characters.
    huge = snapshot(location=unique_location(), translations={"en": {"title": "夢" * 3000}}, artists=["😀" * 400])
    await harness.send("catalog.event.published", huge)
    answer = await board.get(f"/api/v1/sl/board?location={huge['location']['slug']}")
    assert len(answer.content) < 2048
    item = answer.json()["data"]["items"][0]
    assert item["title"].startswith("夢夢") and item["title"].endswith("…")
    text = await board.get(f"/api/v1/sl/board?location={huge['location']['slug']}&format=text")
    assert len(text.content) < 2048 and text.content.decode("utf-8").startswith("next|")


# -- refusals ---------------------------------------------------------------------------------


async def refused(answer, reason: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"success": False, "error": reason}


async def test_every_refusal_has_a_short_reason(harness):
    location = unique_location()
    board = await register(harness, "board", location)
    ok = await board.get("/api/v1/sl/board")
    assert ok.status_code == 200
    path = "/api/v1/sl/board"

    await refused(await board.get(path, drop=("X-SL-Signature",)), "missing signature headers")
    await refused(await board.get(path, override={"X-SL-Signature": ll_hmac("wrong secret", "x")}), "bad signature")
    await refused(await board.get(path, override={"X-SL-Signature": "%%%not base64"}), "bad signature")
    # Signed for another path (the query is part of what is signed).
    signed_other = board.signed_headers("GET", "/api/v1/sl/board?location=elsewhere", "")
    await refused(await board.get(path, override=signed_other), "bad signature")
    await refused(await board.get(path, timestamp=int(time.time()) - 301), "timestamp too far from now")
    await refused(await board.get(path, timestamp=int(time.time()) + 301), "timestamp too far from now")
    await refused(await board.get(path, override={"X-SL-Timestamp": "soon"}), "bad timestamp")
    await refused(await board.get(path, nonce="n" * 33), "bad nonce")
    nonce = uuid.uuid4().hex
    assert (await board.get(path, nonce=nonce)).status_code == 200
    await refused(await board.get(path, nonce=nonce), "nonce already used")
    await refused(await board.get(path, override={"X-SL-Object": "slo_unknown"}), "unknown object")

    beta = LslObject(
        harness.client, board.object_id, board.secret, owner_key=OWNER, object_key=board.object_key, shard="Testing"
    )
    await refused(await beta.get(path), "wrong grid")
    await refused(await board.get(path, drop=("X-SecondLife-Shard",)), "wrong grid")
    stranger = LslObject(
        harness.client, board.object_id, board.secret, owner_key=str(uuid.uuid4()), object_key=board.object_key
    )
    await refused(await stranger.get(path), "owner key mismatch")
    copy = LslObject(harness.client, board.object_id, board.secret, owner_key=OWNER)  # another object, same secret
    await refused(await copy.get(path), "object key mismatch")
    bound = await harness.db.fetch_value("SELECT object_key FROM sl_objects WHERE id = %s", (board.object_id,))
    assert bound == board.object_key  # bound by the first valid request

    await refused(
        await board.post("/api/v1/sl/checkin", {"event": "x", "avatar_key": OWNER, "avatar_name": "A"}),
        "purpose not allowed",
    )

    revoked = await harness.client.post(
        f"/api/v1/admin/integrations/sl/objects/{board.object_id}/revoke", headers=harness.admin
    )
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked"] is True
    await refused(await board.get(path), "object revoked")
    twice = await harness.client.post(
        f"/api/v1/admin/integrations/sl/objects/{board.object_id}/revoke", headers=harness.admin
    )
    assert twice.status_code == 409
    rotate = await harness.client.post(
        f"/api/v1/admin/integrations/sl/objects/{board.object_id}/rotate", headers=harness.admin
    )
    assert rotate.status_code == 409


async def test_a_nonce_is_remembered_by_every_replica(harness):
    """The nonce lives in the database: a second app on the same schema refuses the replay."""
    board = await register(harness, "board", unique_location())
    headers = {**board.simulator_headers(), **board.signed_headers("GET", "/api/v1/sl/board", "")}
    first = await harness.client.get("/api/v1/sl/board", headers=headers)
    assert first.status_code == 200
    stored = await harness.db.fetch_value("SELECT COUNT(*) FROM sl_nonces WHERE object_id = %s", (board.object_id,))
    assert stored == 1
    replay = await harness.client.get("/api/v1/sl/board", headers=headers)
    await refused(replay, "nonce already used")


async def test_rate_limit_answers_429_with_the_delay_in_the_body(harness):
    board = await register(harness, "board", unique_location())
    limit = harness.app.state.settings.integration_sl_rate_limit
    assert limit > 25  # a little above the simulator's own throttle
    for _ in range(limit):
        assert (await board.get("/api/v1/sl/board")).status_code == 200
    limited = await board.get("/api/v1/sl/board")
    assert limited.status_code == 429
    body = limited.json()
    assert body["success"] is False and body["error"] == "rate limited"
    assert 1 <= body["retry_after"] <= 20 and limited.headers["retry-after"] == str(body["retry_after"])
    # The window slides: once the oldest requests are older than the period, requests pass again.
    await harness.db.execute(
        "UPDATE sl_nonces SET seen_at = seen_at - INTERVAL 21 SECOND WHERE object_id = %s", (board.object_id,)
    )
    assert (await board.get("/api/v1/sl/board")).status_code == 200


async def test_rotation_keeps_the_old_secret_for_the_grace_period(harness):
    board = await register(harness, "board", unique_location())
    assert (await board.get("/api/v1/sl/board")).status_code == 200
    rotated = await harness.client.post(
        f"/api/v1/admin/integrations/sl/objects/{board.object_id}/rotate", headers=harness.admin
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["data"]["secret"]
    assert new_secret != board.secret and rotated.json()["data"]["previous_secret_valid_until"].endswith("Z")
    assert (await board.get("/api/v1/sl/board")).status_code == 200  # old secret, in the grace period
    renewed = LslObject(harness.client, board.object_id, new_secret, owner_key=OWNER, object_key=board.object_key)
    assert (await renewed.get("/api/v1/sl/board")).status_code == 200
    await harness.db.execute(
        "UPDATE sl_objects SET previous_valid_until = UTC_TIMESTAMP() - INTERVAL 1 SECOND WHERE id = %s",
        (board.object_id,),
    )
    await refused(await board.get("/api/v1/sl/board"), "bad signature")
    assert (await renewed.get("/api/v1/sl/board")).status_code == 200


# -- check-in, visitors ------------------------------------------------------------------------


async def on_the_bus(harness, event_type: str, data: dict) -> bool:
    return any(m["type"] == event_type and m["data"] == data for m in harness.published)


async def outbox(harness, event_type: str) -> list[dict]:
    rows = await harness.db.fetch_all("SELECT payload FROM outbox WHERE event_type = %s ORDER BY id", (event_type,))
    return [json.loads(r["payload"])["data"] for r in rows]


async def test_checkin_publishes_and_shows_live(harness):
    location = unique_location()
    now = datetime.now(UTC)
    snap = snapshot(location=location, start=now - timedelta(minutes=10), title="Live Set")
    await harness.send("catalog.event.published", snap)
    host = await register(harness, "checkin", location)
    dj = "b1c2d3e4-0000-4000-8000-00000000abcd"
    answer = await host.post(
        "/api/v1/sl/checkin", {"event": snap["slug"], "avatar_key": dj, "avatar_name": "Aurora Résident"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["live"] is True and answer.json()["data"]["checked_in_at"].endswith("Z")
    [event] = [e for e in await outbox(harness, "integration.sl.checked_in") if e["event_slug"] == snap["slug"]]
    assert event == {
        "event_id": snap["id"],
        "event_slug": snap["slug"],
        "location": location,
        "avatar_key": dj,
        "avatar_name": "Aurora Résident",
        "checked_in_at": answer.json()["data"]["checked_in_at"],
    }
    await wait_until(lambda: on_the_bus(harness, "integration.sl.checked_in", event), what="the check-in on the bus")
    board = await register(harness, "board", location)
    assert (await board.get("/api/v1/sl/board")).json()["data"]["items"][0]["state"] == "live"
    seen = await harness.client.get(
        f"/api/v1/admin/integrations/sl/checkins?event={snap['slug']}", headers=harness.admin
    )
    assert [c["avatar_name"] for c in seen.json()["data"]] == ["Aurora Résident"]

    # As application/json too; errors short enough for chat.
    json_body = await host.post(
        "/api/v1/sl/checkin", {"event": snap["slug"], "avatar_key": dj, "avatar_name": "A"}, mimetype="application/json"
    )
    assert json_body.status_code == 200
    cases = [
        ({"event": "no-such-night", "avatar_key": dj, "avatar_name": "A"}, {}, 404, "no such event"),
        ({"event": snap["slug"], "avatar_key": "nope", "avatar_name": "A"}, {}, 422, "bad body"),
        ({"event": snap["slug"], "avatar_key": dj, "avatar_name": "A", "x": 1}, {}, 422, "bad body"),
        ('{"event":', {}, 422, "bad body"),
        ({"event": snap["slug"], "avatar_key": dj, "avatar_name": "A"}, {"mimetype": "text/html"}, 415, None),
        (
            {"event": snap["slug"], "avatar_key": dj, "avatar_name": "A"},
            {"mimetype": "text/plain;charset=latin-1"},
            415,
            None,
        ),
        (b'{"event":"\xff"}', {}, 415, "send UTF-8"),
    ]
    for body, options, status, error in cases:
        answer = await host.post("/api/v1/sl/checkin", body, **options)
        assert answer.status_code == status, (body, answer.text)
        assert len(answer.content) < 300
        if error:
            assert answer.json()["error"] == error
    other = snapshot(location=unique_location(), start=now)
    await harness.send("catalog.event.published", other)
    elsewhere = await host.post("/api/v1/sl/checkin", {"event": other["slug"], "avatar_key": dj, "avatar_name": "A"})
    assert elsewhere.status_code == 409 and elsewhere.json()["error"] == "event is at another venue"


async def test_visitor_counts_make_attendance_per_event(harness):
    location = unique_location()
    now = datetime.now(UTC)
    snap = snapshot(location=location, start=now - timedelta(minutes=20))
    await harness.send("catalog.event.published", snap)
    counter = await register(harness, "counter", location)
    for count in (12, 30, 18):
        answer = await counter.post("/api/v1/sl/visitors", {"count": count})
        assert answer.status_code == 200 and answer.json()["data"] == {"location": location, "count": count}
    wrong = await counter.post("/api/v1/sl/visitors", {"count": 3, "location": "somewhere-else"})
    assert wrong.status_code == 422 and wrong.json()["errors"] == {"location": ["not where this object stands"]}
    negative = await counter.post("/api/v1/sl/visitors", {"count": -1})
    assert negative.status_code == 422
    rows = await harness.db.fetch_all(
        "SELECT visitors FROM sl_visitors WHERE location_slug = %s ORDER BY id", (location,)
    )
    assert [r["visitors"] for r in rows] == [12, 30, 18]  # a time series, one row per report
    answer = await harness.client.get(
        f"/api/v1/admin/integrations/sl/attendance?location={location}", headers=harness.admin
    )
    [item] = answer.json()["data"]
    assert (item["event_slug"], item["peak"], item["average"], item["reports"]) == (snap["slug"], 30, 20.0, 3)


# -- avatar links ------------------------------------------------------------------------------


async def issue_code(harness, user_id: int, code: str, *, expires_in: int = 600) -> None:
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in)).replace(tzinfo=None).isoformat(
        timespec="seconds"
    ) + "Z"
    async with harness.producer.state.db.transaction() as tx:
        event = await publish(
            tx,
            "auth.sl_link.code_issued",
            {"user_id": user_id, "code_hash": hashlib.sha256(code.encode()).hexdigest(), "expires_at": expires},
            source="auth",
        )
    await harness.consumed(str(event.id))


async def test_linking_an_avatar_with_a_one_time_code(harness):
    linker = await register(harness, "linker", unique_location())
    avatar = "c0ffee00-1234-4abc-8def-000000000042"
    await issue_code(harness, 501, "K7Q2M9XA")
    assert code_hash("k7q2-m9xa") == hashlib.sha256(b"K7Q2M9XA").hexdigest()  # typed as the user sees it
    answer = await linker.post(
        "/api/v1/sl/link", {"code": "k7q2-m9xa", "avatar_key": avatar, "avatar_name": "Luna Résident"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "data": {"linked": True, "avatar_name": "Luna Résident"}}
    [linked] = [e for e in await outbox(harness, "integration.sl.avatar_linked") if e["user_id"] == 501]
    assert (
        linked["avatar_key"] == avatar
        and linked["avatar_name"] == "Luna Résident"
        and linked["linked_at"].endswith("Z")
    )
    await wait_until(lambda: on_the_bus(harness, "integration.sl.avatar_linked", linked), what="the link on the bus")

    again = await linker.post("/api/v1/sl/link", {"code": "K7Q2M9XA", "avatar_key": avatar, "avatar_name": "Luna"})
    assert again.status_code == 409 and again.json()["error"] == "code already used"
    unknown = await linker.post("/api/v1/sl/link", {"code": "ZZZZ9999", "avatar_key": avatar, "avatar_name": "Luna"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown code"
    await issue_code(harness, 502, "OLDCODE1", expires_in=-5)
    expired = await linker.post("/api/v1/sl/link", {"code": "OLDCODE1", "avatar_key": avatar, "avatar_name": "Luna"})
    assert expired.status_code == 410 and expired.json()["error"] == "code expired"

    # A newer code replaces the user's unused one; an erased account's codes are forgotten.
    await issue_code(harness, 503, "FIRST111")
    await issue_code(harness, 503, "SECOND22")
    first = await linker.post("/api/v1/sl/link", {"code": "FIRST111", "avatar_key": avatar, "avatar_name": "Luna"})
    assert first.status_code == 404
    async with harness.producer.state.db.transaction() as tx:
        event = await publish(tx, "auth.user.deleted", {"user_id": 503}, source="auth")
    await harness.consumed(str(event.id))
    second = await linker.post("/api/v1/sl/link", {"code": "SECOND22", "avatar_key": avatar, "avatar_name": "Luna"})
    assert second.status_code == 404


async def test_the_board_needs_no_catalog(harness, mysql_url, amqp_url, db_prefix, bus_namespace):
    """The board reads the service's own read model: no catalog runs in these tests, and once the
    only producer of this event has stopped altogether the board still answers with it."""
    location = unique_location()
    snap = snapshot(location=location, title="Read model night")
    async with catalog_producer(mysql_url, amqp_url, db_prefix, bus_namespace) as producer:
        async with producer.state.db.transaction() as tx:
            event = await publish(tx, "catalog.event.published", snap, source="catalog")
        await harness.consumed(str(event.id))
    board = await register(harness, "board", location)
    answer = await board.get("/api/v1/sl/board")
    assert answer.status_code == 200 and answer.json()["data"]["items"][0]["title"] == "Read model night"


def test_the_readme_and_the_openapi_show_the_same_lsl_snippet(harness):
    from pathlib import Path

    from tdc_integration.sl.lsl import LSL_SNIPPET

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert LSL_SNIPPET in readme
    document = harness.app.openapi()
    assert LSL_SNIPPET in document["info"]["description"]
    assert 'llHMAC(SECRET, method + "\\n"' in document["paths"]["/api/v1/sl/board"]["get"]["description"]
