"""Every event on the bus: its producer, its consumers and the fields of its `data`.

No event may be published that this file does not list (`publish` refuses it, and a test
checks every `publish(...)` call in the tree). Consumers are tolerant readers: a producer may
add fields; removing or renaming one needs a new `version`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventSpec:
    type: str
    producer: str
    consumers: tuple[str, ...]
    fields: tuple[str, ...]
    description: str = ""


# What a calendar, email or Second Life consumer needs of an event without calling the catalog.
EVENT_SNAPSHOT = (
    "id",
    "uid",
    "slug",
    "status",
    "start_utc",
    "end_utc",
    "timezone",
    "location",
    "artists",
    "translations",
    "sequence",
    "is_featured",
    "image_url",
)

EVENTS: dict[str, EventSpec] = {
    spec.type: spec
    for spec in (
        # -- auth ------------------------------------------------------------------------------
        EventSpec(
            "auth.user.registered",
            "auth",
            ("notification",),
            ("user_id", "email", "username", "language"),
            "A new account was created.",
        ),
        EventSpec(
            "auth.email_verification.requested",
            "auth",
            ("notification",),
            ("user_id", "email", "username", "language", "token", "expires_at"),
            "Send the one-time email verification link.",
        ),
        EventSpec(
            "auth.password_reset.requested",
            "auth",
            ("notification",),
            ("user_id", "email", "username", "language", "token", "expires_at"),
            "Send the one-time password reset link.",
        ),
        EventSpec(
            "auth.user.updated",
            "auth",
            ("notification",),
            ("user_id", "email", "username", "display_name", "language", "is_active", "email_verified"),
            "Profile or account state changed.",
        ),
        EventSpec(
            "auth.user.registration_attempted",
            "auth",
            ("notification",),
            ("user_id", "email", "username", "language"),
            "Someone tried to register with this account's address; mail its owner how to sign in or reset.",
        ),
        EventSpec(
            "auth.user.role_changed",
            "auth",
            ("notification",),
            ("user_id", "old_role", "new_role"),
            "An admin changed a user's role.",
        ),
        EventSpec(
            "auth.user.deleted",
            "auth",
            ("notification", "membership", "integration"),
            ("user_id",),
            "The account was erased; consumers drop personal data they keep.",
        ),
        EventSpec(
            "auth.user.registration_attempted",
            "auth",
            ("notification",),
            ("user_id", "email", "username", "language"),
            "Someone tried to register with an address that already has an account: mail its owner.",
        ),
        EventSpec(
            "auth.sl_link.code_issued",
            "auth",
            ("integration",),
            ("user_id", "code_hash", "expires_at"),
            "A signed-in user asked to link a Second Life avatar: the SHA-256 of the one-time code,"
            " valid until expires_at.",
        ),
        EventSpec(
            "auth.tokens.revoked",
            "auth",
            ("gateway", "auth", "catalog", "blog", "membership", "notification", "integration"),
            ("user_id", "session_id", "not_before"),
            "Access tokens die before their expiry: the session's (session_id) or, with session_id null,"
            " the user's issued before not_before (epoch seconds). A broadcast every process consumes"
            " (tdc_shared.events.revocations).",
        ),
        # -- catalog ---------------------------------------------------------------------------
        EventSpec(
            "catalog.event.published",
            "catalog",
            ("notification", "integration", "catalog"),
            EVENT_SNAPSHOT,
            "An event became public.",
        ),
        EventSpec(
            "catalog.event.updated",
            "catalog",
            ("notification", "integration", "catalog"),
            EVENT_SNAPSHOT,
            "A published event changed (time, lineup, texts).",
        ),
        EventSpec(
            "catalog.event.cancelled",
            "catalog",
            ("notification", "integration", "catalog"),
            EVENT_SNAPSHOT,
            "A published event was cancelled.",
        ),
        EventSpec(
            "catalog.event.deleted",
            "catalog",
            ("notification", "integration", "catalog"),
            ("id", "uid", "slug", "sequence"),
            "An event was deleted.",
        ),
        EventSpec(
            "catalog.location.updated",
            "catalog",
            ("notification", "catalog"),
            ("id", "slug", "name", "is_active", "mood_category", "translations"),
            "A location was created or changed.",
        ),
        EventSpec(
            "catalog.artist.updated",
            "catalog",
            ("notification", "catalog"),
            ("id", "slug", "name", "genre", "is_active", "translations"),
            "An artist was created or changed.",
        ),
        EventSpec(
            "catalog.location.deleted",
            "catalog",
            ("notification", "catalog"),
            ("id", "slug"),
            "A location (that hosted no event) was deleted.",
        ),
        EventSpec(
            "catalog.artist.deleted",
            "catalog",
            ("notification", "catalog"),
            ("id", "slug"),
            "An artist (in no lineup) was deleted.",
        ),
        EventSpec(
            "catalog.staff.updated",
            "catalog",
            ("catalog",),
            ("id", "slug", "name", "deleted"),
            "A staff profile was created, changed or deleted (replicas drop cached pages).",
        ),
        EventSpec(
            "catalog.i18n.updated",
            "catalog",
            ("catalog",),
            ("key", "deleted"),
            "A UI string or one of its translations changed (replicas drop cached pages).",
        ),
        EventSpec(
            "catalog.media.deleted",
            "catalog",
            ("catalog",),
            ("id",),
            "An image was deleted; pictures that used it are unset (replicas drop cached pages).",
        ),
        # -- blog ------------------------------------------------------------------------------
        # Bodies of gated posts are never in a payload: the newsletter sends the teaser and a link.
        EventSpec(
            "blog.post.published",
            "blog",
            ("notification", "blog"),
            (
                "id",
                "slug",
                "translations",
                "visibility",
                "required_tier_id",
                "required_cents",
                "cover_url",
                "published_at",
                "category",
            ),
            "A post became readable (now, or at its scheduled time).",
        ),
        EventSpec(
            "blog.post.updated",
            "blog",
            ("notification", "blog"),
            (
                "id",
                "slug",
                "translations",
                "visibility",
                "required_tier_id",
                "required_cents",
                "cover_url",
                "published_at",
                "category",
            ),
            "A published post changed.",
        ),
        EventSpec(
            "blog.post.unpublished",
            "blog",
            ("notification", "blog"),
            ("id", "slug"),
            "A published post was taken down (or deleted).",
        ),
        EventSpec(
            "blog.category.updated",
            "blog",
            ("blog",),
            ("id", "slug", "deleted"),
            "A category was created, renamed, translated or deleted (replicas drop cached pages).",
        ),
        EventSpec(
            "blog.tag.updated",
            "blog",
            ("blog",),
            ("id", "slug", "deleted"),
            "A tag was created, renamed, translated or deleted (replicas drop cached pages).",
        ),
        # -- membership ------------------------------------------------------------------------
        EventSpec(
            "membership.supporter.activated",
            "membership",
            ("auth", "notification"),
            ("user_id", "patreon_user_id", "tier_id", "amount_cents", "patron_status"),
            "A Patreon member became an active supporter (user_id is ours when linked, else null).",
        ),
        EventSpec(
            "membership.supporter.tier_changed",
            "membership",
            ("auth", "notification"),
            ("user_id", "patreon_user_id", "tier_id", "amount_cents", "patron_status"),
            "An active supporter moved to another tier.",
        ),
        EventSpec(
            "membership.supporter.deactivated",
            "membership",
            ("auth",),
            ("user_id", "patreon_user_id", "tier_id", "amount_cents", "patron_status"),
            "A supporter stopped supporting (pledge deleted, declined, former patron, or unlinked);"
            " tier_id and amount_cents are the standing that ended.",
        ),
        EventSpec(
            "membership.tier.updated",
            "membership",
            ("blog",),
            ("id", "amount_cents", "translations"),
            "A Patreon tier appeared or changed (translated titles).",
        ),
        # -- integration -----------------------------------------------------------------------
        EventSpec(
            "integration.sl.checked_in",
            "integration",
            ("catalog",),
            ("event_id", "event_slug", "location", "avatar_key", "avatar_name", "checked_in_at"),
            "A DJ or host checked in at a venue from an in-world object: the event shows as live.",
        ),
        EventSpec(
            "integration.sl.avatar_linked",
            "integration",
            ("auth",),
            ("user_id", "avatar_key", "avatar_name", "linked_at"),
            "A Second Life avatar proved a one-time link code in-world: it belongs to that account.",
        ),
    )
}


class UnknownEvent(ValueError):
    """An event type that the catalog does not list."""


def spec_for(event_type: str) -> EventSpec:
    try:
        return EVENTS[event_type]
    except KeyError:
        raise UnknownEvent(f"{event_type!r} is not in the event catalog (tdc_shared/events/catalog.py)") from None


def consumed_by(service: str) -> list[str]:
    return sorted(t for t, spec in EVENTS.items() if service in spec.consumers)
