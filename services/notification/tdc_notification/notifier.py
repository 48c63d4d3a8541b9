"""What handlers, routes and the sender share: settings, clock, templates, and waking the sender.

Handlers are module-level functions of (tx, event) (`handlers.py`), so the app hands them this
object at start-up through `configure`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tdc_shared.db import Session
from tdc_shared.i18n import LANGUAGES

from . import compose
from .clock import Clock
from .kinds import KINDS
from .queries import mails
from .settings import NotificationSettings
from .templates import Templates
from .unsubscribe import make_token


@dataclass
class Notifier:
    settings: NotificationSettings
    clock: Clock = field(default_factory=Clock)
    templates: Templates = field(default_factory=Templates)
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """A mail was queued (called after the commit): the local sender looks at once."""
        self.woken.set()

    def links(self) -> dict[str, str]:
        site = self.settings.frontend_url
        return {"site_url": site, "events_url": f"{site}/events", "unsubscribe_url": ""}

    def frontend(self, path: str) -> str:
        return f"{self.settings.frontend_url}{path}"

    def unsubscribe_url(self, user_id: int | None, kind: str, now: datetime) -> str | None:
        topic = KINDS[kind].topic
        if user_id is None or topic is None:
            return None
        token = make_token(
            self.settings.notification_unsubscribe_secret,
            user_id,
            topic,
            now,
            self.settings.notification_unsubscribe_ttl_days,
        )
        return f"{self.settings.public_api_url}/api/v1/notifications/unsubscribe?token={token}"

    def subjects(self, kind: str, context: dict[str, Any]) -> dict[str, str]:
        """The subject in each language (for bulk enqueueing)."""
        return {
            language: self.templates.subject(
                kind, language, compose.template_vars(kind, context, language, self.links())
            )
            for language in LANGUAGES
        }

    async def queue(
        self,
        tx: Session,
        *,
        kind: str,
        key: str,
        user_id: int | None,
        to: str,
        language: str,
        context: dict[str, Any],
        subject_ref: str | None = None,
        due_at: datetime | None = None,
    ) -> bool:
        now = self.clock.now()
        subject = self.templates.subject(kind, language, compose.template_vars(kind, context, language, self.links()))
        queued = await mails.enqueue(
            tx,
            key=key,
            user_id=user_id,
            kind=kind,
            subject_ref=subject_ref,
            to=to,
            language=language,
            subject=subject,
            context=context,
            due_at=due_at or now,
            now=now,
        )
        if queued:
            tx.after_commit(self.wake)
        return queued


class NotConfigured(RuntimeError):
    pass


_current: Notifier | None = None


def configure(notifier: Notifier) -> None:
    global _current
    _current = notifier


def current() -> Notifier:
    if _current is None:
        raise NotConfigured("the notification app has not configured its notifier")
    return _current
