"""Reading Patreon's documents (the samples themselves), and the fake speaking their shapes."""

from __future__ import annotations

from datetime import datetime

import httpx2
from fake_patreon import EVERY_FIELD, FakeMember, FakePatreon, fixture

from tdc_membership import jsonapi
from tdc_membership.patreon import retry_after


def test_a_captured_delivery_reads_as_a_member_with_its_tiers():
    member = jsonapi.member_document(fixture("webhook-members-pledge-update.json"))
    assert member is not None
    assert (member.member_id, member.patreon_user_id, member.campaign_id) == (
        "6e8d5b84-dfc9-457b-bb88-89df59777251",
        "88555402",
        "9441253",
    )
    assert member.is_active and member.entitled_cents == 100 and member.lifetime_support_cents == 240
    assert member.patron_since == datetime(2023, 2, 8, 16, 36, 58, 615000)
    assert member.tier_ids == ("9512023", "9512103")
    assert {(t.id, t.title, t.amount_cents) for t in member.tiers} == {
        ("9512103", "Bib", 100),
        ("9512023", "Not Even a Bit", 100),
    }
    follower = jsonapi.member_document(fixture("webhook-members-docs-data-only.json"))
    assert follower is not None and not follower.is_active and follower.tier_ids == ()
    create = jsonapi.member_document(fixture("webhook-members-pledge-create.json"))
    assert create is not None and create.tiers == () and create.tier_ids == ("9512103", "9512023")


def test_cursors_in_either_form_and_the_last_page():
    page = fixture("campaign-members-docs.json")
    assert jsonapi.next_cursor(page) == "12345678abcdefg"
    only_link = {**page, "meta": {"pagination": {"total": 100}}}
    assert jsonapi.next_cursor(only_link) == "12345678abcdefg"
    only_meta = {k: v for k, v in page.items() if k != "links"}
    assert jsonapi.next_cursor(only_meta) == "12345678abcdefg"
    assert jsonapi.next_cursor({"data": [], "meta": {"pagination": {"total": 1}}}) is None
    [member] = jsonapi.members_page(page)
    # The docs' request included `address`, not `user`: no user id to key the member by.
    assert member.patreon_user_id is None and member.tier_ids == ("54321",) and member.is_active


def test_identity_documents():
    captured = fixture("identity-memberships-captured.json")
    assert jsonapi.identity_user(captured) == ("120007504", None, None)
    member = jsonapi.identity_membership(captured, "any campaign")  # no campaign relationship: ours
    assert member is not None and member.member_id == "5413b32a-2f7d-480a-8ca6-3ab20c9c618d"
    assert member.patreon_user_id == "120007504" and member.tier_ids == ("21880338",)
    assert member.tiers == ()  # the tier came without its fields
    docs = fixture("identity-docs.json")
    assert jsonapi.identity_user(docs) == ("id", "some_email@email.com", "Platform Team")
    assert jsonapi.identity_membership(docs, "x") is None


def test_nonsense_yields_nothing():
    for document in ({}, {"data": []}, {"data": {"type": "post"}}, {"data": "x", "included": "y"}):
        assert jsonapi.member_document(document) is None
        assert jsonapi.members_page(document) == []
        assert jsonapi.next_cursor(document) is None


def test_the_pause_a_429_asks_for():
    body = fixture("error-429-throttled-docs.json")
    assert retry_after(httpx2.Response(429, json=body)) == 9
    assert retry_after(httpx2.Response(429, headers={"Retry-After": "4"}, json={"errors": [{}]})) == 4
    assert retry_after(httpx2.Response(429, text="slow down")) == 1


def _shape(value):
    """Keys all the way down (lists by their first element), the values' types left out."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def test_the_fake_speaks_the_captured_shape():
    sample = fixture("webhook-members-pledge-update.json")
    fake = FakePatreon(campaign_id="9441253")
    fake.add_tier("9512103", "Bib", 100)
    fake.add_tier("9512023", "Not Even a Bit", 100)
    fake.add_member(FakeMember("6e8d5b84-dfc9-457b-bb88-89df59777251", "88555402", "active_patron", ["9512023"], 100))
    ours = fake.member_document(fake.members["6e8d5b84-dfc9-457b-bb88-89df59777251"], EVERY_FIELD)
    assert _shape(ours["data"]["relationships"]) == _shape(sample["data"]["relationships"])
    assert set(ours["data"]["attributes"]) == set(sample["data"]["attributes"])
    assert set(ours) == set(sample) and ours["data"]["type"] == "member"
    sample_types = {r["type"] for r in sample["included"]}
    assert {r["type"] for r in ours["included"]} <= sample_types
    for resource in ours["included"]:
        example = next(r for r in sample["included"] if r["type"] == resource["type"])
        assert set(resource["attributes"]) <= set(example["attributes"]), resource["type"]
    member = jsonapi.member_document(ours)
    assert member is not None and member.is_active and member.patreon_user_id == "88555402"
    assert member.tier_ids == ("9512023",) and [t.title for t in member.tiers] == ["Not Even a Bit"]
