"""Google Calendar: both calendars kept equal to the catalog, against the fake over real HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx2
from conftest import INTERNAL, PUBLIC
from fakes import fixture
from integration_testkit import deletion, snapshot

from tdc_integration.render import google_event_id


async def log_rows(harness, catalog_id: int) -> list[dict]:
    return await harness.db.fetch_all(
        "SELECT action, target, status, http_status, error FROM integration_logs"
        " WHERE integration = 'google' AND catalog_id = %s ORDER BY id",
        (catalog_id,),
    )


def test_event_ids_are_base32hex_of_the_uid():
    uid = "0b6e2f4c-8d1a-4e57-9c3b-2a1f0e9d8c7b"
    event_id = google_event_id(uid)
    assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id)
    assert event_id == google_event_id(uid)  # stable: a second insert of one event is a 409
    assert event_id != google_event_id("1b6e2f4c-8d1a-4e57-9c3b-2a1f0e9d8c7b")
    assert re.fullmatch(r"[a-v0-9]{5,1024}", google_event_id("x"))  # padded to the minimum length


async def test_publish_update_cancel_delete_keep_both_calendars_equal(harness):
    google = harness.google
    snap = snapshot(title="Jazz under the stars", timezone="Europe/Rome")
    event_id = google_event_id(snap["uid"])

    await harness.send("catalog.event.published", snap)
    internal, public = google.events(INTERNAL)[event_id], google.events(PUBLIC)[event_id]
    assert internal["summary"] == public["summary"] == "Jazz under the stars"
    assert internal["start"]["timeZone"] == "Europe/Rome"
    assert internal["start"]["dateTime"].endswith(("+01:00", "+02:00"))  # local time with its offset
    assert internal["extendedProperties"]["private"]["tdcSequence"] == "1"
    assert "https://dreamerscave.example/admin/events/" in internal["description"]  # staff: the admin page
    assert "DJ Aurora" in internal["description"] and re.search(
        r"DJ Aurora \d\d:\d\d-\d\d:\d\d", internal["description"]
    )
    assert "/admin/" not in public["description"]
    assert f"https://dreamerscave.example/events/{snap['slug']}" in public["description"]
    assert internal["location"] == "The Main Stage"

    moved = {**snap, "sequence": 2, "start_utc": snap["start_utc"].replace("T", "T").replace(":00:00Z", ":30:00Z")}
    await harness.send("catalog.event.updated", moved)
    assert google.events(INTERNAL)[event_id]["extendedProperties"]["private"]["tdcSequence"] == "2"
    assert google.events(PUBLIC)[event_id]["start"]["dateTime"][14:16] == "30"

    cancelled = {**moved, "status": "cancelled", "sequence": 3}
    await harness.send("catalog.event.cancelled", cancelled)
    for calendar in (INTERNAL, PUBLIC):
        shown = google.events(calendar)[event_id]
        assert shown["summary"] == "Cancelled: Jazz under the stars"
        assert shown["status"] == "confirmed"  # still visible: Google's cancelled would hide it

    await harness.send("catalog.event.deleted", deletion(cancelled))
    assert event_id not in google.events(INTERNAL) and event_id not in google.events(PUBLIC)
    # One Google event per catalog event, across the whole life of it.
    assert [k for k in google.events(INTERNAL, visible_only=False) if k == event_id] == [event_id]
    pushes = await harness.pushes(snap["id"])
    assert {k: v["status"] for k, v in pushes.items() if k[0] == "google"} == {
        ("google", "internal"): "done",
        ("google", "public"): "done",
    }


async def test_translated_cancelled_prefix(harness, mysql_url, amqp_url, db_prefix, signing_key, credentials_file):
    from tdc_integration import render

    snap = snapshot(status="cancelled", title="Notte")
    settings = harness.app.state.settings.model_copy(update={"integration_language": "it"})
    body = render.google_body(snap, "public", settings)
    assert body["summary"] == "Annullato: Notte (it)"
    assert render.google_body(snap, "public", harness.app.state.settings)["summary"] == "Cancelled: Notte"


async def test_an_older_revision_never_overwrites_a_newer_one(harness):
    google = harness.google
    snap = snapshot(sequence=5, title="Newest title")
    event_id = google_event_id(snap["uid"])
    await harness.send("catalog.event.published", snap)
    # Delivered late: the read model already holds revision 5, so nothing is pushed.
    await harness.send("catalog.event.updated", {**snap, "sequence": 4, "translations": {"en": {"title": "Stale"}}})
    assert google.events(INTERNAL)[event_id]["summary"] == "Newest title"

    # The calendar shows a newer revision than ours (pushed by a newer deployment): skipped.
    google.calendars[INTERNAL][event_id].body["extendedProperties"]["private"]["tdcSequence"] = "9"
    before = len(google.calls("PUT", event_id))
    await harness.send("catalog.event.updated", {**snap, "sequence": 6, "translations": {"en": {"title": "Six"}}})
    assert google.events(INTERNAL)[event_id]["summary"] == "Newest title"
    assert google.events(PUBLIC)[event_id]["summary"] == "Six"
    assert len(google.calls("PUT", event_id)) == before + 1  # only the public calendar was written


async def test_insert_answered_409_becomes_an_update(harness):
    google = harness.google
    snap = snapshot(title="First")
    event_id = google_event_id(snap["uid"])
    await harness.send("catalog.event.published", snap)
    # The GET is lost (404 as if the earlier insert had not landed): the insert meets the id.
    google.fail_next("GET", f"{INTERNAL}/events/{event_id}", 404, fixture("google/error-404-not-found.json"))
    await harness.send("catalog.event.updated", {**snap, "sequence": 2, "translations": {"en": {"title": "Second"}}})
    assert google.events(INTERNAL)[event_id]["summary"] == "Second"
    actions = [
        (r["action"], r["http_status"]) for r in await log_rows(harness, snap["id"]) if r["target"] == "internal"
    ]
    assert actions[-3:] == [("get", 404), ("insert", 409), ("update", 200)]


def _shown(snap, event_id):
    body = fixture("google/event-captured.json")
    body.update({"id": event_id, "extendedProperties": {"private": {"tdcSequence": str(snap["sequence"] - 1)}}})
    return body


async def test_update_answered_404_or_410_becomes_an_insert(harness):
    google = harness.google
    for error in ("google/error-404-not-found.json", "google/error-410-deleted.json"):
        snap = snapshot(title=f"Back after {error}")
        event_id = google_event_id(snap["uid"])
        # GET says the event is there, the update finds it gone: insert it.
        google.fail_next("GET", f"{PUBLIC}/events/{event_id}", 200, _shown(snap, event_id))
        status = fixture(error)["error"]["code"]
        google.fail_next("PUT", f"{PUBLIC}/events/{event_id}", status, fixture(error))
        await harness.send("catalog.event.published", snap)
        assert google.events(PUBLIC)[event_id]["summary"] == f"Back after {error}"
        actions = [
            (r["action"], r["http_status"]) for r in await log_rows(harness, snap["id"]) if r["target"] == "public"
        ]
        assert actions == [("get", 200), ("update", status), ("insert", 200)]


async def test_get_answered_410_full_sync_required_inserts(harness):
    google = harness.google
    snap = snapshot()
    event_id = google_event_id(snap["uid"])
    google.fail_next("GET", f"{PUBLIC}/events/{event_id}", 410, fixture("google/error-410-full-sync-required.json"))
    await harness.send("catalog.event.published", snap)
    assert event_id in google.events(PUBLIC)


async def test_a_deleted_event_is_restored_by_an_update(harness):
    google = harness.google
    snap = snapshot(title="Revived")
    event_id = google_event_id(snap["uid"])
    await harness.send("catalog.event.published", snap)
    # Someone deleted it in Google's UI: GET still returns it (status cancelled), insert would be 409.
    google.calendars[INTERNAL][event_id].deleted = True
    google.calendars[INTERNAL][event_id].body["status"] = "cancelled"
    await harness.send("catalog.event.updated", {**snap, "sequence": 2})
    assert google.events(INTERNAL)[event_id]["status"] == "confirmed"


async def test_deleting_twice_answers_410_and_counts_as_done(harness):
    google = harness.google
    snap = snapshot()
    event_id = google_event_id(snap["uid"])
    await harness.send("catalog.event.published", snap)
    google.calendars[INTERNAL][event_id].deleted = True  # already deleted on Google's side
    await harness.send("catalog.event.deleted", deletion(snap))
    rows = [r for r in await log_rows(harness, snap["id"]) if r["action"] == "delete"]
    assert sorted((r["target"], r["http_status"]) for r in rows) == [("internal", 410), ("public", 204)]
    assert {v["status"] for v in (await harness.pushes(snap["id"])).values()} == {"done"}


async def test_the_fake_enforces_what_google_enforces(harness, google):
    async with httpx2.AsyncClient() as http:
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": harness.worker.google.assertion(),
        }
        token = (await http.post(google.token_url, data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"start": {"dateTime": "2026-12-24T20:00:00-08:00"}, "end": {"dateTime": "2026-12-24T22:00:00-08:00"}}
        url = f"{google.api_url}/calendars/{PUBLIC}/events"
        for bad in ("abc", "UPPERCASE123", "wxyz12345", "a" * 1025):
            answer = await http.post(url, json={**body, "id": bad}, headers=headers)
            assert answer.status_code == 400, bad
        good = "abcdefghijklmnopqrstuv0123456789"
        assert (await http.post(url, json={**body, "id": good}, headers=headers)).status_code == 200
        duplicate = await http.post(url, json={**body, "id": good}, headers=headers)
        assert duplicate.status_code == 409 and duplicate.json() == fixture("google/error-409-duplicate.json")
        assert (await http.delete(f"{url}/{good}", headers=headers)).status_code == 204
        gone = await http.delete(f"{url}/{good}", headers=headers)
        assert gone.status_code == 410 and gone.json() == fixture("google/error-410-deleted.json")
        assert (await http.post(url, json={**body, "id": good}, headers=headers)).status_code == 409  # ids stay taken
        no_auth = await http.get(f"{url}/{good}")
        assert no_auth.status_code == 401 and no_auth.json() == fixture("google/error-401-invalid-credentials.json")


async def test_the_assertion_claims_and_the_token_cache(harness, google):
    before = len(google.calls("POST", "/token"))
    harness.worker.google._token = None  # start from no token
    await harness.send("catalog.event.published", snapshot())
    await harness.send("catalog.event.published", snapshot())
    assert len(google.calls("POST", "/token")) == before + 1  # four calls and more, one token
    issued = google.assertions[-1]
    claims, header = issued["claims"], issued["header"]
    assert header["alg"] == "RS256" and header["kid"] == google.account.key_id
    assert claims["iss"] == google.account.client_email
    assert claims["aud"] == google.token_url
    assert claims["scope"] == "https://www.googleapis.com/auth/calendar.events"
    assert 0 < claims["exp"] - claims["iat"] <= 3600

    # A token about to expire is not used: a new one is fetched before the call.
    worker = harness.worker.google
    worker._token_expires = worker.clock() + 30
    await harness.send("catalog.event.published", snapshot())
    assert len(google.calls("POST", "/token")) == before + 2


async def test_a_401_refreshes_the_token_once(harness, google):
    snap = snapshot()
    before = len(google.calls("POST", "/token"))
    google.revoke_tokens()  # the cached token is now refused with the real 401 body
    await harness.send("catalog.event.published", snap)
    assert google_event_id(snap["uid"]) in google.events(PUBLIC)
    assert len(google.calls("POST", "/token")) == before + 1
    statuses = [r["http_status"] for r in await log_rows(harness, snap["id"])]
    assert statuses.count(401) == 1


async def test_a_second_401_parks_the_push(harness, google):
    snap = snapshot()
    unauthorized = fixture("google/error-401-invalid-credentials.json")
    google.fail_next("GET", google_event_id(snap["uid"]), 401, unauthorized, times=2)
    await harness.send("catalog.event.published", snap)
    pushes = await harness.pushes(snap["id"])
    failed = [v for v in pushes.values() if v["status"] == "failed"]
    assert len(failed) == 1 and "401" in failed[0]["last_error"]
    assert failed[0]["next_attempt_at"] is not None  # parked for the sweep, not lost


async def test_an_invalid_grant_parks_the_push(harness, google):
    snap = snapshot()
    harness.worker.google._token = None
    google.fail_next("POST", "/token", 400, fixture("google/oauth-token-error-invalid-grant.json"))
    await harness.send("catalog.event.published", snap)
    rows = await harness.db.fetch_all(
        "SELECT error FROM integration_logs WHERE action = 'token' AND status = 'error' ORDER BY id DESC LIMIT 1"
    )
    assert rows[0]["error"].startswith("invalid_grant")
    statuses = sorted(v["status"] for k, v in (await harness.pushes(snap["id"])).items() if k[0] == "google")
    assert statuses == ["done", "failed"]  # the first push met the refusal; the second got a token


async def test_rate_limits_and_server_errors_back_off_then_succeed(harness, google):
    for name, status in (
        ("google/error-403-rate-limit-exceeded.json", 403),
        ("google/error-403-user-rate-limit-exceeded.json", 403),
        ("google/error-429-rate-limit-exceeded.json", 429),
    ):
        snap = snapshot()
        google.fail_next("POST", f"{INTERNAL}/events", status, fixture(name), times=2)
        await harness.send("catalog.event.published", snap)
        assert google_event_id(snap["uid"]) in google.events(INTERNAL), name
        inserts = [r["http_status"] for r in await log_rows(harness, snap["id"]) if r["action"] == "insert"]
        assert inserts.count(status) == 2 and inserts.count(200) == 2


async def test_persistent_failures_are_parked_then_swept(harness, google):
    snap = snapshot()
    attempts = harness.app.state.settings.integration_push_attempts
    google.fail_next("POST", f"{PUBLIC}/events", 503, {"error": {"code": 503, "message": "Backend Error"}}, attempts)
    await harness.send("catalog.event.published", snap)
    public = (await harness.pushes(snap["id"]))[("google", "public")]
    assert public["status"] == "failed" and "gave up after" in public["last_error"]
    assert google_event_id(snap["uid"]) not in google.events(PUBLIC)
    assert await harness.worker.run_once() == 0  # parked: not before its time
    await harness.db.execute(
        "UPDATE pushes SET next_attempt_at = next_attempt_at - INTERVAL 1 DAY WHERE catalog_id = %s", (snap["id"],)
    )
    await harness.drain()  # the sweep
    assert (await harness.pushes(snap["id"]))[("google", "public")]["status"] == "done"
    assert google_event_id(snap["uid"]) in google.events(PUBLIC)


async def test_quota_exceeded_stops_calls_until_the_window_ends(harness, google):
    snap = snapshot()
    google.fail_next("POST", f"{INTERNAL}/events", 403, fixture("google/error-403-calendar-usage-limits-exceeded.json"))
    await harness.send("catalog.event.published", snap)
    status = (await harness.client.get("/api/v1/admin/integrations", headers=harness.admin)).json()["data"]
    google_status = next(i for i in status if i["name"] == "google")
    assert google_status["state"] == "paused" and google_status["paused_until"].endswith("Z")
    assert google_status["pending"] >= 1

    calls_before = len(google.requests)
    second = snapshot()
    await harness.send("catalog.event.published", second)
    assert len(google.requests) == calls_before  # no call at all while paused
    assert {v["status"] for k, v in (await harness.pushes(second["id"])).items() if k[0] == "google"} == {"pending"}

    await harness.db.execute("UPDATE integration_state SET paused_until = UTC_TIMESTAMP() - INTERVAL 1 SECOND")
    await harness.drain()
    for event in (snap, second):
        assert google_event_id(event["uid"]) in google.events(INTERNAL)


async def test_quota_pause_defaults_to_midnight_pacific():
    from datetime import UTC, datetime

    from tdc_integration.clients.google import next_quota_reset

    reset = next_quota_reset(datetime(2026, 12, 1, 7, 30, tzinfo=UTC))  # 23:30 in Los Angeles
    assert reset == datetime(2026, 12, 1, 8, 0)
    assert next_quota_reset(datetime(2026, 7, 1, 6, 59, tzinfo=UTC)) - datetime(2026, 7, 1, 6, 59) <= timedelta(
        hours=24
    )
