"""Reading Patreon's JSON:API documents: members with their user and tiers, campaigns, cursors.

Tolerant: any attribute may be missing or null (v2 sends only the fields asked for), and a
document that is not the shape we expect yields nothing rather than an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACTIVE = "active_patron"


@dataclass(frozen=True)
class TierInfo:
    id: str
    title: str
    amount_cents: int
    description: str | None = None
    url: str | None = None
    published: bool = True


@dataclass(frozen=True)
class MemberState:
    """A member of the campaign as Patreon describes it at one moment."""

    member_id: str | None
    patreon_user_id: str | None
    campaign_id: str | None = None
    email: str | None = None
    full_name: str | None = None
    patron_status: str | None = None
    entitled_cents: int = 0
    lifetime_support_cents: int = 0
    patron_since: datetime | None = None
    last_charge_date: datetime | None = None
    last_charge_status: str | None = None
    tier_ids: tuple[str, ...] = ()
    tiers: tuple[TierInfo, ...] = field(default_factory=tuple)

    @property
    def is_active(self) -> bool:
        return self.patron_status == ACTIVE


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _cents(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def parse_time(value: Any) -> datetime | None:
    """Patreon's ISO 8601 times (`2023-03-08T08:24:05.000+00:00`) as naive UTC, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _related_id(resource: dict[str, Any], name: str) -> str | None:
    return _str(_dict(_dict(_dict(resource.get("relationships")).get(name)).get("data")).get("id"))


def _related_ids(resource: dict[str, Any], name: str) -> tuple[str, ...]:
    data = _dict(_dict(resource.get("relationships")).get(name)).get("data")
    if not isinstance(data, list):
        return ()
    return tuple(i for i in (_str(_dict(item).get("id")) for item in data) if i)


def included_index(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    index: dict[tuple[str, str], dict[str, Any]] = {}
    included = document.get("included")
    for resource in included if isinstance(included, list) else ():
        resource = _dict(resource)
        kind, rid = _str(resource.get("type")), _str(resource.get("id"))
        if kind and rid:
            index[(kind, rid)] = resource
    return index


def tier_of(resource: dict[str, Any]) -> TierInfo | None:
    tier_id = _str(resource.get("id"))
    attributes = _dict(resource.get("attributes"))
    if tier_id is None or "amount_cents" not in attributes:
        return None  # a tier reference without its fields: nothing to record
    return TierInfo(
        id=tier_id,
        title=_str(attributes.get("title")) or f"Tier {tier_id}",
        amount_cents=_cents(attributes.get("amount_cents")),
        description=attributes.get("description") if isinstance(attributes.get("description"), str) else None,
        url=_str(attributes.get("url")),
        published=attributes.get("published") is not False,
    )


def tiers_in(document: dict[str, Any]) -> list[TierInfo]:
    """Every tier with its fields among the document's `included` resources."""
    return [t for (kind, _), res in included_index(document).items() if kind == "tier" and (t := tier_of(res))]


def member_of(resource: dict[str, Any], index: dict[tuple[str, str], dict[str, Any]]) -> MemberState | None:
    if _str(resource.get("type")) != "member":
        return None
    attributes = _dict(resource.get("attributes"))
    user_id = _related_id(resource, "user")
    user = _dict(_dict(index.get(("user", user_id or ""))).get("attributes"))
    tier_ids = _related_ids(resource, "currently_entitled_tiers")
    tiers = tuple(t for tid in tier_ids if (t := tier_of(index.get(("tier", tid), {}))) is not None)
    return MemberState(
        member_id=_str(resource.get("id")),
        patreon_user_id=user_id,
        campaign_id=_related_id(resource, "campaign"),
        email=_str(attributes.get("email")) or _str(user.get("email")),
        full_name=_str(attributes.get("full_name")) or _str(user.get("full_name")),
        patron_status=_str(attributes.get("patron_status")),
        entitled_cents=_cents(attributes.get("currently_entitled_amount_cents")),
        lifetime_support_cents=_cents(attributes.get("lifetime_support_cents")),
        patron_since=parse_time(attributes.get("pledge_relationship_start")),
        last_charge_date=parse_time(attributes.get("last_charge_date")),
        last_charge_status=_str(attributes.get("last_charge_status")),
        tier_ids=tier_ids,
        tiers=tiers,
    )


def member_document(document: dict[str, Any]) -> MemberState | None:
    """The member of a single-member document (a webhook body or GET /members/{id})."""
    return member_of(_dict(document.get("data")), included_index(document))


def members_page(document: dict[str, Any]) -> list[MemberState]:
    data = document.get("data")
    index = included_index(document)
    members = (member_of(_dict(r), index) for r in (data if isinstance(data, list) else ()))
    return [m for m in members if m is not None]


def next_cursor(document: dict[str, Any]) -> str | None:
    """The cursor of the next page: `meta.pagination.cursors.next`, else the `page[cursor]` of
    `links.next` (older documents give only one of the two; the last page gives neither)."""
    cursor = _str(_dict(_dict(_dict(document.get("meta")).get("pagination")).get("cursors")).get("next"))
    if cursor:
        return cursor
    link = _str(_dict(document.get("links")).get("next"))
    if link:
        values = parse_qs(urlsplit(link).query).get("page[cursor]")
        if values and values[0]:
            return values[0]
    return None


def identity_user(document: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(Patreon user id, email, full name) of an identity document."""
    data = _dict(document.get("data"))
    attributes = _dict(data.get("attributes"))
    if _str(data.get("type")) != "user":
        return None, None, None
    return _str(data.get("id")), _str(attributes.get("email")), _str(attributes.get("full_name"))


def identity_membership(document: dict[str, Any], campaign_id: str) -> MemberState | None:
    """The identity's membership of our campaign (the only one without `identity.memberships`
    scope; with it, the one whose campaign is ours), with the user filled in."""
    user_id, email, full_name = identity_user(document)
    index = included_index(document)
    members = [m for m in (member_of(r, index) for (kind, _), r in index.items() if kind == "member") if m]
    ours = [m for m in members if m.campaign_id == campaign_id] or [m for m in members if m.campaign_id is None]
    if not ours:
        return None
    member = ours[0]
    return MemberState(
        member_id=member.member_id,
        patreon_user_id=user_id,
        campaign_id=member.campaign_id,
        email=member.email or email,
        full_name=member.full_name or full_name,
        patron_status=member.patron_status,
        entitled_cents=member.entitled_cents,
        lifetime_support_cents=member.lifetime_support_cents,
        patron_since=member.patron_since,
        last_charge_date=member.last_charge_date,
        last_charge_status=member.last_charge_status,
        tier_ids=member.tier_ids,
        tiers=member.tiers,
    )


def campaign_of(document: dict[str, Any]) -> tuple[str | None, str | None, int | None, list[TierInfo]]:
    """(id, url, patron_count, tiers) of a campaign document."""
    data = _dict(document.get("data"))
    attributes = _dict(data.get("attributes"))
    count = attributes.get("patron_count")
    return (
        _str(data.get("id")),
        _str(attributes.get("url")),
        count if isinstance(count, int) and not isinstance(count, bool) else None,
        tiers_in(document),
    )
