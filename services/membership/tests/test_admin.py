"""The staff side: status (configured or not), supporters with emails, tier texts, summary;
and a service without Patreon settings that still runs and serves what it has."""

from __future__ import annotations

import asyncio

from membership_testkit import Membership, make_app, make_settings, new_user_id, running

ADMIN = "/api/v1/admin/patreon"


async def test_supporters_search_and_filters(membership: Membership):
    m = membership
    owl, regular = m.member(["t-1500"], cents=1500), m.member(["t-500"], cents=500)
    lapsed = m.member(["t-500"], status="declined_patron", cents=500)
    for member in (owl, regular, lapsed):
        await m.deliver(member.member_id, "members:update")
    user_id = new_user_id()
    await m.link(user_id, owl.user_id)

    found = await m.client.get(f"{ADMIN}/supporters", params={"q": owl.email}, headers=m.admin)
    assert found.status_code == 200
    [row] = found.json()["data"]
    assert row["email"] == owl.email and row["user_id"] == user_id and row["tier_id"] == "t-1500"
    assert row["is_active"] is True and row["patron_since"] == "2023-02-08T16:36:58Z"

    async def ids(**params: str) -> set[str]:
        response = await m.client.get(f"{ADMIN}/supporters", params={"per_page": 100, **params}, headers=m.admin)
        assert response.status_code == 200
        assert response.json()["meta"]["pagination"]["total"] >= len(response.json()["data"])
        return {r["patreon_user_id"] for r in response.json()["data"]}

    assert owl.user_id in await ids(tier_id="t-1500") and regular.user_id not in await ids(tier_id="t-1500")
    assert lapsed.user_id in await ids(status="inactive") and lapsed.user_id not in await ids(status="active")
    assert owl.user_id in await ids(status="linked") and regular.user_id in await ids(status="unlinked")
    # LIKE wildcards in a search are literal.
    assert await ids(q="%") == set()
    bad = await m.client.get(f"{ADMIN}/supporters", params={"status": "vip"}, headers=m.admin)
    assert bad.status_code == 422 and "status" in bad.json()["errors"]
    for headers, code in (({}, 401), (m.headers(user_id), 403), (m.headers(2, role="staff"), 403)):
        assert (await m.client.get(f"{ADMIN}/supporters", headers=headers)).status_code == code


async def test_tier_texts_are_ours_and_announced(membership: Membership):
    m = membership
    member = m.member(["t-700"], cents=700)
    await m.deliver(member.member_id, "members:create")
    body = {
        "translations": {
            "en": {"title": "Lucky Seven", "benefits": "The wall"},
            "it": {"title": "Sognatore abituale", "description": "Per chi torna"},
        }
    }
    response = await m.client.put(f"{ADMIN}/tiers/t-700/translations", json=body, headers=m.admin)
    assert response.status_code == 200
    assert response.json()["data"]["translations"]["it"]["title"] == "Sognatore abituale"
    assert response.json()["data"]["patreon_title"] == "Seven"  # Patreon's own stays as it is
    updated = (await m.outbox("membership.tier.updated", id="t-700"))[-1]
    assert updated["amount_cents"] == 700
    assert updated["translations"]["it"] == {
        "title": "Sognatore abituale",
        "description": "Per chi torna",
        "benefits": "The wall",
    }
    assert updated["translations"]["fr"]["title"] == "Lucky Seven"
    page = await m.client.get("/api/v1/support", params={"lang": "it"})
    tier = next(t for t in page.json()["data"]["tiers"] if t["id"] == "t-700")
    assert tier == {
        "id": "t-700",
        "title": "Sognatore abituale",
        "description": "Per chi torna",
        "benefits": "The wall",
        "amount_cents": 700,
        "join_url": "/join/cave/checkout?rid=t-700",
    }
    assert (await m.client.put(f"{ADMIN}/tiers/nope/translations", json=body, headers=m.admin)).status_code == 404
    bad = await m.client.put(f"{ADMIN}/tiers/t-700/translations", json={"translations": {"de": {}}}, headers=m.admin)
    assert bad.status_code == 422
    assert (await m.client.put(f"{ADMIN}/tiers/t-700/translations", json=body, headers=m.headers(3))).status_code == 403


async def test_support_page_counts_supporters(membership: Membership):
    m = membership
    before = (await m.client.get("/api/v1/support")).json()["data"]["supporter_count"]
    member = m.member(["t-500"], cents=500)
    await m.deliver(member.member_id, "members:create")
    after = (await m.client.get("/api/v1/support")).json()["data"]
    assert after["supporter_count"] == before + 1
    bad = await m.client.get("/api/v1/support", params={"lang": "xx"})
    assert bad.status_code == 422


async def test_summary_and_status(membership: Membership):
    m = membership
    summary = await m.client.get(f"{ADMIN}/summary", headers=m.admin)
    assert summary.status_code == 200
    data = summary.json()["data"]
    assert data["configured"] is True and data["supporters"]["active"] >= 1
    assert {"linked", "active_linked", "known", "on_wall", "monthly_cents"} <= set(data["supporters"])
    assert any(t["id"] == "t-500" and t["active"] >= 1 for t in data["tiers"])
    assert data["webhooks_last_7_days"].get("applied", 0) >= 1
    status = (await m.client.get(f"{ADMIN}/status", headers=m.admin)).json()["data"]
    assert status["configured"] is True and status["missing"] == [] and status["message"] == "Patreon is configured"
    assert m.fake.client_secret not in str(status) and m.fake.creator_token not in str(status)
    assert "fake-webhook-secret" not in str(status)
    assert (await m.client.get(f"{ADMIN}/summary", headers=m.headers(9, role="staff"))).status_code == 403


async def test_without_patreon_settings_the_service_runs_and_says_so(
    mysql_url, amqp_url, db_prefix, bus_namespace, files_dir, signing_key
):
    settings = make_settings(mysql_url, amqp_url, f"{db_prefix}bare_", bus_namespace, files_dir, None)
    app = make_app(settings, signing_key)
    async with running(app) as client:
        m = Membership(app, client, signing_key, None)
        status = (await client.get(f"{ADMIN}/status", headers=m.admin)).json()["data"]
        assert status["configured"] is False and status["message"] == "Patreon is not configured"
        assert "TDC_MEMBERSHIP_PATREON_WEBHOOK_SECRET" in status["missing"] and len(status["missing"]) == 5
        for _ in range(200):
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert ready.status_code == 200 and ready.json()["data"]["status"] == "ready"
        page = await client.get("/api/v1/support")
        assert page.status_code == 200 and page.json()["data"]["tiers"] == []
        assert (await client.get("/api/v1/exclusive", headers=m.patron(5, "t", 100))).json()["data"] == []
        for method, url in (("POST", "/api/v1/user/membership/patreon/link"), ("POST", f"{ADMIN}/sync")):
            response = await client.request(method, url, headers=m.admin)
            assert response.status_code == 503 and response.json()["error"] == "Patreon is not configured"
        hook = await client.post("/api/v1/webhooks/patreon", content=b"{}", headers={"X-Patreon-Signature": "00"})
        assert hook.status_code == 503 and hook.json()["error"] == "Patreon webhooks are not configured"
        callback = await client.get("/api/v1/support/patreon/callback", params={"code": "x", "state": "y"})
        assert callback.status_code == 303 and callback.headers["location"].endswith("reason=not_configured")
        assert (await client.get(f"{ADMIN}/summary", headers=m.admin)).json()["data"]["configured"] is False


async def test_demo_data_loads_once(mysql_url, amqp_url, db_prefix, bus_namespace, files_dir, signing_key):
    settings = make_settings(mysql_url, amqp_url, f"{db_prefix}demo_", bus_namespace, files_dir, None, demo_data=True)
    for _ in range(2):
        app = make_app(settings, signing_key)
        async with running(app) as client:
            m = Membership(app, client, signing_key, None)
            tiers = (await client.get("/api/v1/support", params={"lang": "it"})).json()["data"]["tiers"]
            assert [t["title"] for t in tiers] == ["Sognatore", "Nottambulo"]
            items = (await client.get("/api/v1/exclusive", headers=m.patron(5, "demo-dreamer", 300))).json()["data"]
            assert len(items) == 3
            assert [i["locked"] for i in items] == [False, True, False]


async def test_housekeeping_forgets_old_link_states_and_deliveries(membership: Membership):
    from tdc_membership.reconcile import housekeeping

    m = membership
    await m.db.execute(
        "INSERT INTO link_states (state_hash, user_id, code_verifier, expires_at)"
        " VALUES (%s, 1, 'v', UTC_TIMESTAMP(6) - INTERVAL 2 DAY), (%s, 1, 'v', UTC_TIMESTAMP(6) + INTERVAL 5 MINUTE)",
        ("a" * 64, "b" * 64),
    )
    await m.db.execute(
        "INSERT INTO webhook_deliveries (received_at, verified, outcome)"
        " VALUES (UTC_TIMESTAMP(6) - INTERVAL 40 DAY, 0, 'old-one')"
    )
    await housekeeping(m.db, m.app.state.settings)
    left = await m.db.fetch_all("SELECT state_hash FROM link_states WHERE state_hash IN (%s, %s)", ("a" * 64, "b" * 64))
    assert [r["state_hash"] for r in left] == ["b" * 64]
    assert await m.db.fetch_value("SELECT COUNT(*) FROM webhook_deliveries WHERE outcome = 'old-one'") == 0
