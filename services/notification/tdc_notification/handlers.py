"""Every event the notification service consumes, each under its type, through the inbox.

A handler runs in the consumer's transaction next to the inbox row, and only queues mail
(rows in `mails`); the sender delivers them after the commit. Each queued mail has an
idempotency key, so even an effect applied twice (a redelivery racing the inbox on another
replica, a batch replayed one by one) queues it once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry

from . import reminders
from .notifier import current
from .queries import audiences, catalog, mails, recipients

handlers = HandlerRegistry()


def _language(data: dict[str, Any]) -> str:
    language = str(data.get("language") or "en").lower()[:2]
    return language if language in ("en", "it", "fr", "es") else "en"


def _token_ref(token: str) -> str:
    """Names one request in a key without storing the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# -- security mails: sent at once, ahead of everything else ---------------------------------


async def _security_link(tx: Session, event: Event, kind: str, path: str) -> None:
    data = event.data
    notifier = current()
    token = str(data["token"])
    await notifier.queue(
        tx,
        kind=kind,
        key=f"{kind}:{int(data['user_id'])}:{_token_ref(token)}",
        user_id=int(data["user_id"]),
        to=str(data["email"]),
        language=_language(data),
        context={
            "name": data.get("username") or "",
            "link": notifier.frontend(f"{path}?token={token}"),
            "expires_at": data.get("expires_at") or "",
        },
    )


@handlers.on("auth.email_verification.requested")
async def mail_verification_link(tx: Session, event: Event) -> None:
    await _security_link(tx, event, "verify_email", "/verify-email")


@handlers.on("auth.password_reset.requested")
async def mail_reset_link(tx: Session, event: Event) -> None:
    await _security_link(tx, event, "password_reset", "/reset-password")


@handlers.on("auth.user.registration_attempted")
async def mail_registration_attempt(tx: Session, event: Event) -> None:
    data = event.data
    notifier = current()
    await notifier.queue(
        tx,
        kind="registration_attempt",
        key=f"registration_attempt:{int(data['user_id'])}:{event.id}",
        user_id=int(data["user_id"]),
        to=str(data["email"]),
        language=_language(data),
        context={
            "name": data.get("username") or "",
            "signin_url": notifier.frontend("/login"),
            "reset_url": notifier.frontend("/forgot-password"),
        },
    )


ROLE_NAMES = {"user": "member", "staff": "staff", "admin": "administrator"}


@handlers.on("auth.user.role_changed")
async def mail_role_change(tx: Session, event: Event) -> None:
    """A changed role is worth knowing about (and a surprise one worth reporting)."""
    data = event.data
    user_id = int(data["user_id"])
    row = await recipients.get(tx, user_id)
    if row is None or not row["is_active"]:
        return
    await current().queue(
        tx,
        kind="role_changed",
        key=f"role_changed:{user_id}:{event.id}",
        user_id=user_id,
        to=row["email"],
        language=row["language"],
        context={"name": row["username"] or "", "role": ROLE_NAMES.get(str(data.get("new_role")), "member")},
    )


# -- the recipients' read model and the welcome mail ----------------------------------------


async def _welcome_if_due(tx: Session, user_id: int) -> None:
    """Welcome once, after verification: when both the registration and a verified, active
    address have been seen, in whichever order the two events arrive."""
    row = await recipients.get(tx, user_id, lock=True)
    if row is None or not (row["welcome_due"] and row["email_verified"] and row["is_active"]):
        return
    await recipients.welcome_sent(tx, user_id)
    if not row["account_mail"]:
        return
    await current().queue(
        tx,
        kind="welcome",
        key=f"welcome:{user_id}",
        user_id=user_id,
        to=row["email"],
        language=row["language"],
        context={"name": row["username"] or ""},
    )


@handlers.on("auth.user.registered")
async def remember_registration(tx: Session, event: Event) -> None:
    await recipients.registered(tx, event.data)
    await _welcome_if_due(tx, int(event.data["user_id"]))


@handlers.on("auth.user.updated")
async def remember_account(tx: Session, event: Event) -> None:
    data = event.data
    user_id = int(data["user_id"])
    before = await recipients.get(tx, user_id, lock=True)
    await recipients.updated(tx, data)
    mailable = bool(data.get("email_verified")) and bool(data.get("is_active", True))
    if before is not None and before["email"] != data["email"]:
        await recipients.readdress_pending(tx, user_id, data["email"])
    if not mailable:
        await recipients.cancel_optional(tx, user_id)
        return
    if before is None or not (before["email_verified"] and before["is_active"]):
        # Newly mailable: upcoming events this reader asked about are now reminded.
        await reminders.reader_changed(tx, current(), user_id)
    await _welcome_if_due(tx, user_id)


@handlers.on("auth.user.deleted")
async def forget_account(tx: Session, event: Event) -> None:
    user_id = int(event.data["user_id"])
    await mails.erase_user(tx, user_id)
    await recipients.delete(tx, user_id)


# -- the catalog: reminders, and the slugs favourites are checked against ------------------


@handlers.on("catalog.event.published")
@handlers.on("catalog.event.updated")
async def schedule_reminders(tx: Session, event: Event) -> None:
    await reminders.event_changed(tx, current(), event.data)


@handlers.on("catalog.event.cancelled")
async def replace_reminders_with_notice(tx: Session, event: Event) -> None:
    await reminders.learn_lineup(tx, event.data)
    await reminders.event_cancelled(tx, current(), event.data)


@handlers.on("catalog.event.deleted")
async def drop_reminders(tx: Session, event: Event) -> None:
    await reminders.event_deleted(tx, event.data)


@handlers.on("catalog.location.updated")
async def remember_location(tx: Session, event: Event) -> None:
    await catalog.remember(tx, "location", event.data)


@handlers.on("catalog.location.deleted")
async def forget_location(tx: Session, event: Event) -> None:
    await catalog.forget(tx, "location", int(event.data["id"]))


@handlers.on("catalog.artist.updated")
async def remember_artist(tx: Session, event: Event) -> None:
    await catalog.remember(tx, "artist", event.data)


@handlers.on("catalog.artist.deleted")
async def forget_artist(tx: Session, event: Event) -> None:
    await catalog.forget(tx, "artist", int(event.data["id"]))


# -- the blog's newsletter -------------------------------------------------------------------


def _newsletter_context(data: dict[str, Any]) -> dict[str, Any]:
    translations = data.get("translations") or {}
    texts = {lang: t for lang, t in translations.items() if isinstance(t, dict)}
    return {
        "slug": data.get("slug") or "",
        "titles": {lang: t.get("title") for lang, t in texts.items()},
        "excerpts": {lang: t.get("excerpt") or t.get("summary") for lang, t in texts.items()},
        "gated": (data.get("visibility") or "public") != "public",
    }


@handlers.on("blog.post.published")
async def queue_newsletter(tx: Session, event: Event) -> None:
    """Title, excerpt and a link for every opted-in reader. The payload carries no body, and
    readers' standing is not known here: a gated post gets the same teaser, marked for
    supporters, so nothing gated ever leaves in a mail."""
    data = event.data
    notifier = current()
    context = _newsletter_context(data)
    queued = await audiences.newsletter(
        tx,
        post_id=int(data["id"]),
        context=json.dumps(context),
        subjects=notifier.subjects("newsletter", context),
        now=notifier.clock.now(),
    )
    if queued:
        tx.after_commit(notifier.wake)


@handlers.on("blog.post.updated")
async def refresh_newsletter(tx: Session, event: Event) -> None:
    """A post edited before its newsletter left: the pending mails carry the new texts."""
    context = _newsletter_context(event.data)
    await audiences.refresh_newsletter(
        tx,
        post_id=int(event.data["id"]),
        context=json.dumps(context),
        subjects=current().subjects("newsletter", context),
    )


@handlers.on("blog.post.unpublished")
async def withdraw_newsletter(tx: Session, event: Event) -> None:
    await audiences.cancel_newsletter(tx, int(event.data["id"]))


# -- membership ----------------------------------------------------------------------------


@handlers.on("membership.supporter.activated")
@handlers.on("membership.supporter.tier_changed")
async def thank_supporter(tx: Session, event: Event) -> None:
    user_id = event.data.get("user_id")
    if user_id is None:
        return  # a Patreon member not linked to an account: no address of ours to thank
    row = await recipients.get(tx, int(user_id))
    if row is None or not (row["email_verified"] and row["is_active"] and row["account_mail"]):
        return
    await current().queue(
        tx,
        kind="supporter_thanks",
        key=f"supporter_thanks:{int(user_id)}:{event.id}",
        user_id=int(user_id),
        to=row["email"],
        language=row["language"],
        context={"name": row["username"] or ""},
    )
