"""/api/v1/admin/integrations: who may call it, status, log, pushes, resync, token, summary."""

from __future__ import annotations

import pytest
from conftest import INTERNAL, PUBLIC
from fakes import fixture
from integration_testkit import make_app, make_settings, running, snapshot

from tdc_integration.render import google_event_id

ROUTES = [
    ("GET", "/api/v1/admin/integrations", None),
    ("GET", "/api/v1/admin/integrations/summary", None),
    ("GET", "/api/v1/admin/integrations/log", None),
    ("GET", "/api/v1/admin/integrations/pushes", None),
    ("POST", "/api/v1/admin/integrations/pushes/1/retry", None),
    ("DELETE", "/api/v1/admin/integrations/pushes/1", None),
    ("POST", "/api/v1/admin/integrations/resync", None),
    ("PUT", "/api/v1/admin/integrations/facebook/token", {"token": "EAAB" + "x" * 40}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_admins_only(harness, method, path, body):
    anonymous = await harness.client.request(method, path, json=body)
    assert anonymous.status_code == 401 and anonymous.json()["success"] is False
    for who in (harness.user, harness.staff):
        answer = await harness.client.request(method, path, json=body, headers=who)
        assert answer.status_code == 403 and answer.json() == {"success": False, "error": "Admin access required"}


async def test_status_and_summary(harness):
    snap = snapshot()
    await harness.send("catalog.event.published", snap)
    items = (await harness.client.get("/api/v1/admin/integrations", headers=harness.admin)).json()["data"]
    by_name = {i["name"]: i for i in items}
    assert by_name["google"]["state"] == "enabled" and by_name["google"]["targets"] == ["internal", "public"]
    assert by_name["facebook"]["state"] == "enabled" and by_name["facebook"]["targets"] == ["page"]
    assert by_name["google"]["last_success_at"].endswith("Z") and by_name["google"]["pending"] == 0
    summary = (await harness.client.get("/api/v1/admin/integrations/summary", headers=harness.admin)).json()["data"]
    assert summary["integrations"]["google"]["state"] == "enabled"
    assert {"pending", "failed", "errors_last_24h"} <= set(summary)


async def test_log_is_paginated_and_filtered(harness):
    snap = snapshot()
    await harness.send("catalog.event.published", snap)
    page = await harness.client.get(
        f"/api/v1/admin/integrations/log?integration=google&event_id={snap['id']}&per_page=2", headers=harness.admin
    )
    body = page.json()
    assert page.status_code == 200 and len(body["data"]) == 2
    assert body["meta"]["pagination"]["total"] == 4  # get + insert on each calendar
    assert {r["integration"] for r in body["data"]} == {"google"}
    assert body["data"][0]["created_at"].endswith("Z")
    inserts = await harness.client.get(
        f"/api/v1/admin/integrations/log?action=insert&status=ok&event_id={snap['id']}", headers=harness.admin
    )
    assert {r["target"] for r in inserts.json()["data"]} == {"internal", "public"}
    bad = await harness.client.get("/api/v1/admin/integrations/log?integration=myspace", headers=harness.admin)
    assert bad.status_code == 422 and "integration" in bad.json()["errors"]
    bad_page = await harness.client.get("/api/v1/admin/integrations/log?page=0", headers=harness.admin)
    assert bad_page.status_code == 422


async def test_drop_and_retry_of_pushes(harness, google):
    snap = snapshot()
    attempts = harness.app.state.settings.integration_push_attempts
    google.fail_next("POST", f"{PUBLIC}/events", 500, {"error": {"code": 500, "message": "Backend Error"}}, attempts)
    await harness.send("catalog.event.published", snap)
    failed = await harness.client.get("/api/v1/admin/integrations/pushes?status=failed", headers=harness.admin)
    push = next(p for p in failed.json()["data"] if p["event_id"] == snap["id"])
    assert push["target"] == "public" and push["event_slug"] == snap["slug"]

    dropped = await harness.client.delete(f"/api/v1/admin/integrations/pushes/{push['id']}", headers=harness.admin)
    assert dropped.status_code == 204
    again = await harness.client.delete(f"/api/v1/admin/integrations/pushes/{push['id']}", headers=harness.admin)
    assert again.status_code == 409 and again.json() == {
        "success": False,
        "error": "A dropped push cannot be retried or dropped",
    }
    missing = await harness.client.post("/api/v1/admin/integrations/pushes/999999999/retry", headers=harness.admin)
    assert missing.status_code == 404 and missing.json()["error"] == "Push not found"
    not_a_number = await harness.client.post("/api/v1/admin/integrations/pushes/abc/retry", headers=harness.admin)
    assert not_a_number.status_code == 422

    # A dropped push stays dropped until the event changes again; a resync brings it back.
    resync = await harness.client.post("/api/v1/admin/integrations/resync", headers=harness.admin)
    assert resync.status_code == 202 and resync.json()["data"]["events"] >= 1
    await harness.drain()
    assert google_event_id(snap["uid"]) in google.events(PUBLIC)


async def test_resync_repairs_what_was_changed_by_hand(harness, google):
    snap = snapshot(title="The real title")
    event_id = google_event_id(snap["uid"])
    await harness.send("catalog.event.published", snap)
    google.calendars[INTERNAL][event_id].body["summary"] = "Edited in Google's UI"
    past = snapshot(start=None)
    answer = await harness.client.post("/api/v1/admin/integrations/resync", headers=harness.admin)
    assert answer.status_code == 202
    await harness.drain()
    assert google.events(INTERNAL)[event_id]["summary"] == "The real title"
    assert past  # only upcoming events are pushed again (the read model's end_utc > now)


async def test_facebook_token_input(harness):
    for body, field in (
        ({"token": "short"}, "token"),
        ({"token": "EAAB" + "x" * 20 + " y" * 5}, "token"),
        ({}, "token"),
    ):
        answer = await harness.client.put("/api/v1/admin/integrations/facebook/token", json=body, headers=harness.admin)
        assert answer.status_code == 422 and field in answer.json()["errors"], body
    extra = await harness.client.put(
        "/api/v1/admin/integrations/facebook/token", json={"token": "EAAB" + "x" * 40, "page": 1}, headers=harness.admin
    )
    assert extra.status_code == 422 and extra.json()["errors"] == {"page": ["unknown field"]}


async def test_without_credentials_the_integrations_are_disabled(
    mysql_url, amqp_url, db_prefix, bus_namespace, signing_key
):
    from integration_testkit import Harness, catalog_producer

    prefix, namespace = f"{db_prefix}off_", f"{bus_namespace}off"
    app = make_app(make_settings(mysql_url, amqp_url, prefix, namespace), signing_key)
    async with catalog_producer(mysql_url, amqp_url, prefix, namespace) as producer, running(app) as client:
        harness = Harness(app, client, producer, signing_key)
        items = (await client.get("/api/v1/admin/integrations", headers=harness.admin)).json()["data"]
        assert [(i["name"], i["state"]) for i in items] == [("google", "disabled"), ("facebook", "disabled")]
        assert "TDC_INTEGRATION_GOOGLE_CREDENTIALS_FILE" in items[0]["reason"]
        snap = snapshot()
        await harness.send("catalog.event.published", snap)  # consumed, nothing fails
        assert await app.state.db.fetch_value("SELECT COUNT(*) FROM pushes") == 0
        assert await app.state.db.fetch_value(
            "SELECT status FROM catalog_events WHERE catalog_id = %s", (snap["id"],)
        ) == ("published")


async def test_an_unreadable_credentials_file_disables_google_and_says_why(
    mysql_url, amqp_url, db_prefix, bus_namespace, signing_key, tmp_path
):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    prefix, namespace = f"{db_prefix}bad_", f"{bus_namespace}bad"
    settings = make_settings(
        mysql_url,
        amqp_url,
        prefix,
        namespace,
        integration_google_credentials_file=bad,
        integration_google_internal_calendar_id=INTERNAL,
        integration_worker_enabled=False,
    )
    app = make_app(settings, signing_key)
    admin = {"Authorization": f"Bearer {signing_key.token(sub=1, role='admin')}"}
    async with running(app) as client:
        assert app.state.push_worker.google is None and "JSONDecodeError" in app.state.push_worker.google_problem
        assert app.state.push_worker.targets() == []
        items = (await client.get("/api/v1/admin/integrations", headers=admin)).json()["data"]
        assert items[0]["state"] == "disabled" and "cannot read the service-account file" in items[0]["reason"]


def test_error_files_are_the_real_shapes():
    for name in ("google/error-403-calendar-usage-limits-exceeded.json", "facebook/error-190-463-session-expired.json"):
        assert "error" in fixture(name)
