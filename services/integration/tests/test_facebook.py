"""The Facebook page: one post per event, edited, marked cancelled, deleted; Graph's error codes."""

from __future__ import annotations

from datetime import UTC, datetime

from fakes import fixture
from integration_testkit import deletion, snapshot


async def post_of(harness, catalog_id: int) -> str | None:
    return await harness.db.fetch_value(
        "SELECT remote_id FROM remote_links WHERE integration = 'facebook' AND catalog_id = %s", (catalog_id,)
    )


def page_push(pushes):
    return pushes[("facebook", "page")]


async def test_publish_edit_cancel_delete(harness):
    graph = harness.graph
    start = datetime(2026, 12, 24, 4, 0, tzinfo=UTC)  # 20:00 the evening before in Los Angeles
    snap = snapshot(title="Winter Ball", start=start, artists=["DJ Aurora", "Nightingale"])
    await harness.send("catalog.event.published", snap)
    post_id = await post_of(harness, snap["id"])
    post = graph.posts[post_id]
    assert post.message.splitlines()[0] == "Winter Ball"
    assert "2026-12-23 20:00-22:00 PST (America/Los_Angeles)" in post.message  # the event's own zone
    assert "The Main Stage" in post.message and "Lineup: DJ Aurora, Nightingale" in post.message
    assert post.link == f"https://dreamerscave.example/events/{snap['slug']}"
    assert post_id.startswith(f"{graph.page_id}_")

    # A new lineup alone does not edit the post; a new time does.
    await harness.send("catalog.event.updated", {**snap, "sequence": 2, "artists": []})
    assert graph.posts[post_id].edits == 0
    later = {**snap, "sequence": 3, "start_utc": "2026-12-24T05:00:00Z", "end_utc": "2026-12-24T07:00:00Z"}
    await harness.send("catalog.event.updated", later)
    assert graph.posts[post_id].edits == 1 and "21:00-23:00 PST" in graph.posts[post_id].message

    await harness.send("catalog.event.cancelled", {**later, "status": "cancelled", "sequence": 4})
    assert graph.posts[post_id].message.startswith("Cancelled: Winter Ball")

    await harness.send("catalog.event.deleted", deletion({**later, "sequence": 4}))
    assert graph.posts[post_id].deleted
    assert len([p for p in graph.posts.values() if p.link and p.link.endswith(snap["slug"])]) == 1


async def test_a_cancelled_event_never_posted_is_not_posted(harness):
    snap = snapshot(status="cancelled")
    await harness.send("catalog.event.cancelled", snap)
    assert await post_of(harness, snap["id"]) is None
    assert page_push(await harness.pushes(snap["id"]))["status"] == "done"


async def test_transient_codes_back_off_and_retry(harness):
    graph = harness.graph
    for code in (1, 2, 4, 17, 32, 341, 613):
        body = fixture("facebook/error-4-app-request-limit.json")
        body["error"]["code"] = code
        graph.fail_next("POST", "/feed", 400 if code != 2 else 500, body, times=2)
        snap = snapshot()
        await harness.send("catalog.event.published", snap)
        assert await post_of(harness, snap["id"]) in graph.live_posts(), code


async def test_190_marks_needs_reauth_until_an_admin_sets_a_new_token(harness):
    graph = harness.graph
    old_token = graph.token
    graph.expire_tokens()  # every call now gets the real #190/463 body
    snap = snapshot()
    await harness.send("catalog.event.published", snap)
    status = (await harness.client.get("/api/v1/admin/integrations", headers=harness.admin)).json()["data"]
    facebook = next(i for i in status if i["name"] == "facebook")
    assert facebook["state"] == "needs_reauth" and "Session has expired" in facebook["reason"]
    assert page_push(await harness.pushes(snap["id"]))["status"] == "pending"  # waiting, not lost

    calls = len(graph.requests)
    second = snapshot()
    await harness.send("catalog.event.published", second)
    assert len(graph.requests) == calls  # no calls while the token is known bad

    new_token = "EAAB" + "n" * 60
    graph.tokens = {new_token}
    answer = await harness.client.put(
        "/api/v1/admin/integrations/facebook/token", json={"token": new_token}, headers=harness.admin
    )
    assert answer.status_code == 200 and answer.json()["data"]["state"] == "enabled"
    stored = await harness.db.fetch_value(
        "SELECT token_ciphertext FROM integration_state WHERE integration = 'facebook'"
    )
    assert new_token not in stored and harness.app.state.secret_box.open(stored) == new_token
    await harness.drain()
    for event in (snap, second):
        assert await post_of(harness, event["id"]) in graph.live_posts()
    graph.tokens = {old_token}


async def test_the_docs_190_460_body_also_asks_for_reauth(harness):
    harness.graph.fail_next("POST", "/feed", 400, fixture("facebook/error-docs-example.json"))
    snap = snapshot()
    await harness.send("catalog.event.published", snap)
    state = await harness.db.fetch_one(
        "SELECT needs_reauth, reason FROM integration_state WHERE integration = 'facebook'"
    )
    assert state["needs_reauth"] == 1 and "Message describing the error" in state["reason"]


async def test_368_stops_the_push_until_an_admin_retries(harness):
    graph = harness.graph
    blocked = {
        "error": {"message": "It looks like you were misusing this feature", "type": "OAuthException", "code": 368}
    }
    graph.fail_next("POST", "/feed", 400, blocked)
    snap = snapshot()
    await harness.send("catalog.event.published", snap)
    push = page_push(await harness.pushes(snap["id"]))
    assert push["status"] == "failed" and push["next_attempt_at"] is None  # the sweep leaves it alone
    push_id = await harness.db.fetch_value(
        "SELECT id FROM pushes WHERE integration = 'facebook' AND catalog_id = %s", (snap["id"],)
    )
    answer = await harness.client.post(f"/api/v1/admin/integrations/pushes/{push_id}/retry", headers=harness.admin)
    assert answer.status_code == 200 and answer.json()["data"]["status"] == "pending"
    await harness.drain()
    assert await post_of(harness, snap["id"]) in graph.live_posts()


async def test_506_duplicate_counts_as_done(harness):
    duplicate = {"error": {"message": "Duplicate status message", "type": "OAuthException", "code": 506}}
    harness.graph.fail_next("POST", "/feed", 400, duplicate)
    snap = snapshot()
    await harness.send("catalog.event.published", snap)
    assert page_push(await harness.pushes(snap["id"]))["status"] == "done"


async def test_permission_errors_and_the_events_edge_park_the_push(harness):
    for name in (
        "facebook/error-200-permissions.json",
        "facebook/error-283-missing-permission.json",
        "facebook/error-12-events-api-deprecated.json",
    ):
        harness.graph.fail_next("POST", "/feed", 403 if "200" in name else 400, fixture(name))
        snap = snapshot()
        await harness.send("catalog.event.published", snap)
        push = page_push(await harness.pushes(snap["id"]))
        code = fixture(name)["error"]["code"]
        assert push["status"] == "failed" and push["last_error"].startswith(f"#{code} "), name
        assert push["next_attempt_at"] is not None  # parked: the sweep will try again


async def test_tokens_never_reach_the_log(harness, google):
    await harness.send("catalog.event.published", snapshot())
    rows = await harness.db.fetch_all("SELECT request, response, error FROM integration_logs")
    text = " ".join(str(v) for row in rows for v in row.values())
    assert harness.graph.token not in text
    for token in google.tokens:
        assert token not in text
    assert "[redacted]" in text  # the token exchange's assertion and access_token
    listing = await harness.client.get("/api/v1/admin/integrations/log?per_page=100", headers=harness.admin)
    assert harness.graph.token not in listing.text
