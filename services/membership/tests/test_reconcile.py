"""Reconciliation against the fake's members list: paging with both cursor forms, making the
table match, 429 pauses, failures, an interrupted run resumed, one replica at a time.

These tests own their schema and their fake Patreon: a complete run deactivates every
supporter it does not see, which would disturb the other modules' supporters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from fake_patreon import FakeMember, FakePatreon
from membership_testkit import Membership, make_app, make_settings, new_ids, running

from tdc_membership.patreon import PatreonClient
from tdc_membership.reconcile import Reconciler, due

SYNC = "/api/v1/admin/patreon/sync"


@pytest.fixture(scope="module")
def patreon() -> Iterator[FakePatreon]:
    server = FakePatreon(campaign_id="777").start()
    server.add_tier("r-100", "Spark", 100)
    server.add_tier("r-500", "Flame", 500, description="Warm")
    server.add_tier("r-2000", "Blaze", 2000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def m(
    mysql_url, amqp_url, db_prefix, bus_namespace, files_dir, signing_key, patreon
) -> AsyncIterator[Membership]:
    settings = make_settings(
        mysql_url,
        amqp_url,
        f"{db_prefix}rec_",
        bus_namespace,
        files_dir,
        patreon,
        membership_patreon_page_size=3,
        # The schedule stays out of the way here: these tests start every run themselves.
        membership_reconcile_check_seconds=3600,
    )
    app = make_app(settings, signing_key)
    async with running(app) as client:
        yield Membership(app, client, signing_key, patreon)


@pytest.fixture
def fresh(patreon: FakePatreon) -> Iterator[FakePatreon]:
    patreon.members.clear()
    patreon.page_size = None
    patreon.links_next = True
    patreon.throttle_members.clear()
    patreon.fail_members_after = None
    patreon.throttle_later_pages = None
    patreon.reset_pages()
    yield patreon


def add(fake: FakePatreon, tier: str | None, cents: int, status: str | None = "active_patron") -> FakeMember:
    member_id, user_id = new_ids()
    return fake.add_member(FakeMember(member_id, user_id, status, [tier] if tier else [], cents, full_name=user_id))


async def run(m: Membership) -> dict:
    run_id = await m.app.state.reconciler.run("admin")
    assert run_id is not None
    async with m.db.session() as s:
        from tdc_membership.queries import sync as sync_queries

        return await sync_queries.find(s, run_id)


async def active(m: Membership) -> dict[str, tuple[str | None, int]]:
    rows = await m.db.fetch_all("SELECT patreon_user_id, tier_id, amount_cents FROM supporters WHERE is_active = 1")
    return {r["patreon_user_id"]: (r["tier_id"], r["amount_cents"]) for r in rows}


@pytest.mark.parametrize("links_next", [True, False], ids=["links-and-meta", "meta-cursor-only"])
async def test_a_run_pages_through_and_makes_the_table_match(m: Membership, fresh: FakePatreon, links_next: bool):
    fresh.links_next = links_next
    members = [add(fresh, "r-100", 100) for _ in range(4)] + [add(fresh, "r-500", 500) for _ in range(3)]
    declined = add(fresh, "r-100", 100, status="declined_patron")
    result = await run(m)
    assert result["status"] == "succeeded" and result["pages"] == 3 and result["members_seen"] == 8
    pages = fresh.seen("/campaigns/777/members")
    assert [("page[cursor]" in p.query) for p in pages[-3:]] == [False, True, True]
    assert all(p.query["page[count]"] == "3" for p in pages[-3:])
    assert await active(m) == {x.user_id: (x.tier_ids[0], x.entitled_cents) for x in members}
    assert declined.user_id not in await active(m)
    tiers = (await m.client.get("/api/v1/support")).json()["data"]["tiers"]
    assert [(t["id"], t["title"], t["amount_cents"]) for t in tiers] == [
        ("r-100", "Spark", 100),
        ("r-500", "Flame", 500),
        ("r-2000", "Blaze", 2000),
    ]

    # Patreon changes: one upgrades, one becomes a former patron, one disappears, one is new.
    upgraded, former, gone = members[0], members[1], members[2]
    upgraded.tier_ids, upgraded.entitled_cents = ["r-2000"], 2000
    former.patron_status, former.tier_ids = "former_patron", []
    fresh.remove_member(gone.member_id)
    newcomer = add(fresh, "r-500", 500)
    result = await run(m)
    assert result["status"] == "succeeded" and result["deactivated"] == 1
    now = await active(m)
    assert now[upgraded.user_id] == ("r-2000", 2000) and now[newcomer.user_id] == ("r-500", 500)
    assert former.user_id not in now and gone.user_id not in now
    assert len(await m.outbox("membership.supporter.tier_changed", patreon_user_id=upgraded.user_id)) == 1
    assert len(await m.outbox("membership.supporter.deactivated", patreon_user_id=former.user_id)) == 1
    assert len(await m.outbox("membership.supporter.deactivated", patreon_user_id=gone.user_id)) == 1
    # Nothing changed since: a run changes and publishes nothing.
    before = await m.db.fetch_value("SELECT COUNT(*) FROM outbox")
    result = await run(m)
    assert result["changed"] == 0 and result["deactivated"] == 0
    assert await m.db.fetch_value("SELECT COUNT(*) FROM outbox") == before


async def test_a_tier_change_at_patreon_is_announced(m: Membership, fresh: FakePatreon):
    fresh.add_tier("r-500", "Flame", 600, description="Warmer")
    try:
        await run(m)
        updates = await m.outbox("membership.tier.updated", id="r-500")
        assert updates[-1]["amount_cents"] == 600
        assert updates[-1]["translations"]["it"]["title"] == "Flame"  # English until we translate it
        assert set(updates[-1]["translations"]) == {"en", "it", "fr", "es"}
    finally:
        fresh.add_tier("r-500", "Flame", 500, description="Warm")
        await run(m)


async def test_a_429_is_waited_out_for_as_long_as_patreon_asks(m: Membership, fresh: FakePatreon):
    members = [add(fresh, "r-100", 100) for _ in range(5)]
    fresh.throttle_members = [1]
    result = await run(m)
    assert result["status"] == "succeeded" and result["throttled"] == 1
    pages = fresh.seen("/campaigns/777/members")
    throttled = max(i for i, p in enumerate(pages) if p.status == 429)
    assert pages[throttled + 1].status == 200
    assert pages[throttled + 1].at - pages[throttled].at >= 1.0, "asked again before retry_after_seconds"
    assert set(await active(m)) == {x.user_id for x in members}


async def test_a_pause_longer_than_we_wait_fails_the_run_without_deactivating(m: Membership, fresh: FakePatreon):
    members = [add(fresh, "r-100", 100) for _ in range(5)]
    await run(m)
    fresh.remove_member(members[0].member_id)
    fresh.throttle_members = [100_000]
    result = await run(m)
    assert result["status"] == "failed" and "wait" in result["error"]
    assert members[0].user_id in await active(m), "an incomplete run deactivated someone"


async def test_patreon_failing_midway_fails_the_run_and_deactivates_nobody(m: Membership, fresh: FakePatreon):
    members = [add(fresh, "r-100", 100) for _ in range(7)]
    await run(m)
    fresh.remove_member(members[-1].member_id)
    fresh.reset_pages()
    fresh.fail_members_after = 1
    result = await run(m)
    assert result["status"] == "failed" and result["pages"] == 1 and "500" in result["error"]
    assert members[-1].user_id in await active(m)
    fresh.fail_members_after = None
    assert (await run(m))["deactivated"] == 1


async def test_an_interrupted_run_is_resumed_from_its_saved_cursor(m: Membership, fresh: FakePatreon):
    members = [add(fresh, "r-500", 500) for _ in range(8)]
    stale = add(fresh, "r-100", 100)
    await run(m)
    fresh.remove_member(stale.member_id)
    reconciler: Reconciler = m.app.state.reconciler
    # The replica stops while Patreon holds it back with a long 429 on the second page.
    fresh.throttle_later_pages = 30
    task = asyncio.create_task(reconciler.run("schedule"))
    try:
        for _ in range(1500):
            if any(p.status == 429 for p in fresh.seen("/campaigns/777/members")[-1:]):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the run never reached the second page")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        fresh.throttle_later_pages = None
    interrupted = await m.db.fetch_one("SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1")
    assert interrupted["status"] == "running" and interrupted["pages"] == 1 and interrupted["next_cursor"]
    assert await due(m.db, m.app.state.settings), "an interrupted run is due at once"
    watched = (await m.client.get(SYNC, headers=m.admin)).json()["data"]
    assert watched["running"] is False and watched["runs"][0]["status"] == "running"

    result = await run(m)
    assert result["id"] == interrupted["id"] and result["resumed"] == 1 and result["status"] == "succeeded"
    assert result["pages"] == 3 and result["members_seen"] == 8
    resumed_pages = fresh.seen("/campaigns/777/members")[-2:]
    assert all("page[cursor]" in p.query for p in resumed_pages), "it started over instead of resuming"
    assert set(await active(m)) == {x.user_id for x in members}
    assert len(await m.outbox("membership.supporter.deactivated", patreon_user_id=stale.user_id)) == 1


async def test_one_replica_at_a_time(m: Membership, fresh: FakePatreon):
    add(fresh, "r-100", 100)
    settings = m.app.state.settings
    other = Reconciler(m.db, settings, PatreonClient(settings))
    try:
        assert await other.claim()
        assert await m.app.state.reconciler.run("admin") is None, "ran while another replica held the lease"
        busy = await m.client.post(SYNC, headers=m.admin)
        assert busy.status_code == 409 and busy.json()["error"] == "A reconciliation is already running"
        # The other replica dies without releasing: once its lease expires, we may run.
        await m.db.execute("UPDATE sync_lease SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
        other._running = False
        assert await m.app.state.reconciler.run("admin") is not None
        assert await other.claim(), "the lease is free again after our run"
    finally:
        await other.client.aclose()
        from tdc_membership.queries import sync as sync_queries

        await sync_queries.release(m.db, other.holder)


async def test_admins_start_a_run_and_watch_it(m: Membership, fresh: FakePatreon):
    members = [add(fresh, "r-2000", 2000) for _ in range(2)]
    last = await m.db.fetch_value("SELECT COALESCE(MAX(id), 0) FROM sync_runs")
    started = await m.client.post(SYNC, headers=m.admin)
    assert started.status_code == 202 and started.json()["data"] == {"started": True}
    for _ in range(1500):
        status = (await m.client.get(SYNC, headers=m.admin)).json()["data"]
        # Finished, and the lease released (a moment after the run's row says so).
        if status["runs"][0]["id"] > last and status["runs"][0]["status"] != "running" and not status["running"]:
            break
        await asyncio.sleep(0.02)
    assert status["runs"][0]["status"] == "succeeded" and status["configured"] is True
    assert status["running"] is False and status["lease_expires_at"] is None
    assert {x.user_id for x in members} <= set(await active(m))
    for headers, code in (({}, 401), (m.headers(3), 403), (m.headers(4, role="staff"), 403)):
        assert (await m.client.post(SYNC, headers=headers)).status_code == code
        assert (await m.client.get(SYNC, headers=headers)).status_code == code


async def test_the_schedule_runs_when_due(mysql_url, amqp_url, db_prefix, bus_namespace, files_dir, signing_key, fresh):
    add(fresh, "r-100", 100)
    settings = make_settings(
        mysql_url,
        amqp_url,
        f"{db_prefix}sched_",
        bus_namespace,
        files_dir,
        fresh,
        membership_reconcile_interval_seconds=3600,
        membership_reconcile_check_seconds=0.05,
    )
    app = make_app(settings, signing_key)
    async with running(app):
        for _ in range(1500):
            row = await app.state.db.fetch_one("SELECT run_trigger, status FROM sync_runs ORDER BY id LIMIT 1")
            if row and row["status"] == "succeeded":
                break
            await asyncio.sleep(0.02)
        assert row == {"run_trigger": "schedule", "status": "succeeded"}
        assert not await due(app.state.db, settings), "ran once; the next run is an interval away"
        await asyncio.sleep(0.3)
        assert await app.state.db.fetch_value("SELECT COUNT(*) FROM sync_runs") == 1
