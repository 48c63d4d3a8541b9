"""The sender: claims due mail with SKIP LOCKED, renders it, hands it to the relay, records it.

Every replica runs a few senders, one per SMTP connection (lanes). A lane claims a batch in
one short transaction (status `sending`, a random claim token, a lease, each row numbered in
sending order). Then, mail by mail: the SMTP exchange, then one commit of its outcome, before
the next mail begins. So at any moment at most one mail per lane is in the state "the relay
may have it and the database does not know": if the process dies after the relay's 250 and
before that commit, the row is the first of its batch still `sending` once the lease runs
out, and it is marked failed ("outcome unknown") rather than sent again; the rows after it
never began and go back to the queue. A lane whose claim was taken away (its lease ran out
while it was slow) learns it from its next commit and stops. See the README for why SMTP
cannot close that last window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

from tdc_shared.db import Database, DatabaseUnavailable, Row

from . import compose
from .notifier import Notifier
from .queries import mails
from .smtp import Mailer, Outcome

log = logging.getLogger(__name__)

RECOVER_EVERY_SECONDS = 5.0


class Sender:
    def __init__(self, db: Database, notifier: Notifier, mailer: Mailer, *, name: str = "sender") -> None:
        self.db = db
        self.notifier = notifier
        self.mailer = mailer
        self.name = name
        self.settings = notifier.settings
        self.stopping = False
        self.sent = 0
        self._last_recovery = float("-inf")

    async def run(self) -> None:
        poll = self.settings.notification_sender_poll_seconds
        while not self.stopping:
            # Cleared before looking, so a mail queued while this lane sends is not missed.
            self.notifier.woken.clear()
            try:
                await self._recover_now_and_then()
                if await self.send_batch():
                    continue
            except DatabaseUnavailable as exc:
                log.warning("sender %s: database unavailable: %s", self.name, exc)
            except Exception:
                log.exception("sender %s: unexpected failure", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.notifier.woken.wait(), poll)

    async def _recover_now_and_then(self) -> None:
        if time.monotonic() - self._last_recovery < RECOVER_EVERY_SECONDS:
            return
        self._last_recovery = time.monotonic()
        async with self.db.transaction() as tx:
            found = await mails.recover_expired(tx, self.notifier.clock.now())
        if found:
            log.warning("sender %s: recovered %d mail(s) from expired claims", self.name, found)

    async def send_batch(self) -> int:
        """Claim and send one batch; the number of mails attempted (0: nothing was due)."""
        clock = self.notifier.clock
        token = uuid.uuid4().hex
        now = clock.now()
        lease = now + timedelta(seconds=self.settings.notification_sender_lease_seconds)
        async with self.db.transaction() as tx:
            ids = await mails.claim(
                tx, now=now, limit=self.settings.notification_sender_batch, token=token, lease_until=lease
            )
        if not ids:
            return 0
        async with self.db.session() as s:
            rows = await mails.for_sending(s, ids)
        attempted = 0
        for index, row in enumerate(rows):
            outcome, message_id, subject = await self._deliver(row)
            attempted += 1
            following = rows[index + 1 :]
            async with self.db.transaction() as tx:
                held = await self._record(tx, row, token, outcome, message_id, subject)
                if not held:
                    log.warning("sender %s: lost the claim of its batch (its lease ran out)", self.name)
                    following = []
                elif following and self.stopping:
                    await mails.release(tx, [int(r["id"]) for r in following], token)
                    following = []
            if not following:
                break
        return attempted

    async def _deliver(self, row: Row) -> tuple[Outcome, str, str]:
        notifier = self.notifier
        kind = str(row["kind"])
        mail_id = int(row["id"])
        message_id = compose.message_id(mail_id, str(row["idempotency_key"]), self.settings.notification_mail_from)
        now = notifier.clock.now()
        try:
            context: dict[str, Any] = json.loads(row["context"] or "{}")
            if compose.is_security(kind) and not context:
                return Outcome("failed", None, "the security link is no longer kept"), message_id, ""
            if row["username"] and not context.get("name"):
                context["name"] = row["username"]
            unsubscribe = notifier.unsubscribe_url(
                int(row["user_id"]) if row["user_id"] is not None else None, kind, now
            )
            links = {**notifier.links(), "unsubscribe_url": unsubscribe or ""}
            language = str(row["language"])
            rendered = notifier.templates.render(kind, language, compose.template_vars(kind, context, language, links))
            message = compose.build_message(
                rendered,
                mail_from=self.settings.notification_mail_from,
                to=str(row["to_address"]),
                message_id_value=message_id,
                now=now,
                unsubscribe_url=unsubscribe,
            )
        except Exception as exc:  # a broken template or context: no retry will fix it
            log.exception("sender %s: cannot build mail %d", self.name, mail_id)
            return Outcome("failed", None, f"cannot build the mail: {type(exc).__name__}: {exc}"), message_id, ""
        return await self.mailer.send(message), message_id, rendered.subject

    async def _record(self, tx: Any, row: Row, token: str, outcome: Outcome, message_id: str, subject: str) -> bool:
        now = self.notifier.clock.now()
        attempt = int(row["attempts"]) + 1
        retry_at = None
        if outcome.result == "retry" and attempt < self.settings.notification_max_attempts:
            delay = min(
                self.settings.notification_retry_max_seconds,
                self.settings.notification_retry_base_seconds * 2 ** (attempt - 1),
            )
            retry_at = now + timedelta(seconds=delay * random.uniform(0.8, 1.0))
        final = "sent" if outcome.result == "sent" else "failed"
        held = await mails.record_attempt(
            tx,
            int(row["id"]),
            token=token,
            outcome=final,
            code=outcome.code,
            reply=outcome.reply,
            now=now,
            retry_at=retry_at,
            message_id=message_id,
            subject=subject or None,
        )
        if held and final == "sent":
            self.sent += 1
        return held


def sender_component(mailer_factory: Any = None) -> Any:
    """The sender as a `ServiceSpec` component (after the event bus)."""

    @contextlib.asynccontextmanager
    async def component(app: Any) -> Any:
        notifier: Notifier = app.state.notifier
        if not notifier.settings.notification_sender_enabled:
            yield None
            return
        from .smtp import SmtpTarget

        settings = notifier.settings
        target = SmtpTarget.parse(settings.notification_smtp_url)
        replica = f"{settings.service_name}-{uuid.uuid4().hex[:6]}"
        lanes = [
            Sender(
                app.state.db,
                notifier,
                Mailer(target, settings.notification_smtp_timeout_seconds),
                name=f"{replica}/{n}",
            )
            for n in range(settings.notification_sender_connections)
        ]
        app.state.senders = lanes
        tasks = [asyncio.create_task(lane.run(), name=f"notification-sender-{lane.name}") for lane in lanes]
        try:
            yield lanes
        finally:
            for lane in lanes:
                lane.stopping = True
            notifier.wake()
            # Each lane finishes the mail it is sending and gives the rest of its batch back.
            _, late = await asyncio.wait(tasks, timeout=15)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for lane in lanes:
                await lane.mailer.close()

    return component
