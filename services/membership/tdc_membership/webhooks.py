"""Patreon webhook deliveries: verify, log, and treat as a hint.

A delivery's body is a member as Patreon saw it when the delivery was *made*; Patreon retries
failed deliveries for days and in any order, so the body may be long out of date. We use it
only to learn which member changed, then read that member's current state from the API and
apply it under the "newer read wins" rule (standing.py). So a duplicate, or an old
`members:pledge:create` arriving after `members:pledge:delete`, cannot undo the present:
whatever order they come in, the table ends at what Patreon says now. Exact duplicates (same
trigger, same bytes, already applied) are recognised from the log and skip the API call.

When the API cannot be read (not configured, down, throttled) the delivery is answered 503,
so Patreon delivers it again later, and the daily reconciliation would catch up anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mysql.connector import errors as mysql_errors

from tdc_shared.db import Database

from . import jsonapi
from .patreon import PatreonClient, PatreonError
from .queries import deliveries as delivery_queries
from .queries.common import utc_now
from .settings import MembershipSettings
from .signatures import patreon_signature_ok
from .standing import apply_member, apply_member_deleted

log = logging.getLogger(__name__)

MEMBER_TRIGGERS = frozenset(
    {
        "members:create",
        "members:update",
        "members:delete",
        "members:pledge:create",
        "members:pledge:update",
        "members:pledge:delete",
    }
)
# Deadlock, lock wait timeout.
LOCK_ERRORS = (1213, 1205)
MEMBER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class Outcome:
    status: int  # the HTTP status to answer Patreon with
    outcome: str  # what the log says: applied, duplicate, ignored, rejected, deferred, not_configured
    detail: str | None = None


class WebhookIntake:
    def __init__(self, db: Database, settings: MembershipSettings, client: PatreonClient | None) -> None:
        self.db = db
        self.settings = settings
        self.client = client

    async def _log(self, outcome: Outcome, trigger: str | None, verified: bool, **extra: str | None) -> Outcome:
        async with self.db.transaction() as tx:
            await delivery_queries.record(
                tx, trigger=trigger, verified=verified, outcome=outcome.outcome, detail=outcome.detail, **extra
            )
        return outcome

    async def receive(self, body: bytes, trigger: str | None, signature: str | None) -> Outcome:
        secret = self.settings.membership_patreon_webhook_secret
        if not secret:
            return await self._log(Outcome(503, "not_configured", "no webhook secret is set"), trigger, False)
        if not patreon_signature_ok(secret, body, signature):
            # Not a word of the body: it is whatever anyone chose to send.
            return await self._log(Outcome(401, "rejected", "bad or missing signature"), trigger, False)
        digest = hashlib.sha256(body).hexdigest()
        if trigger not in MEMBER_TRIGGERS:
            return await self._log(Outcome(200, "ignored", "not a member trigger"), trigger, True, body_sha256=digest)
        member_id = self._member_id(body)
        if member_id is None:
            return await self._log(Outcome(200, "ignored", "no member in the body"), trigger, True, body_sha256=digest)
        logged = {"body_sha256": digest, "member_id": member_id}
        campaign = self._campaign_id(body)
        if campaign is not None and campaign != self.settings.membership_patreon_campaign_id:
            return await self._log(Outcome(200, "ignored", "another campaign"), trigger, True, **logged)
        async with self.db.session() as s:
            if await delivery_queries.already_applied(s, digest, trigger):
                return await self._log(Outcome(200, "duplicate"), trigger, True, **logged)
        if self.client is None or not self.settings.can_read_members:
            deferred = Outcome(503, "deferred", "cannot read members from Patreon")
            return await self._log(deferred, trigger, True, **logged)
        read_at = utc_now()
        try:
            document = await self.client.member(member_id)
        except PatreonError as exc:
            log.warning("webhook %s: could not read member %s: %s", trigger, member_id, exc)
            return await self._log(Outcome(503, "deferred", str(exc)), trigger, True, **logged)
        try:
            return await self._apply(trigger, member_id, document, read_at, logged)
        except mysql_errors.DatabaseError as exc:
            if getattr(exc, "errno", None) not in LOCK_ERRORS:
                raise
            # Lost a lock race with a sync or another delivery: Patreon will deliver it again.
            log.info("webhook %s for %s lost a lock race, deferred: %s", trigger, member_id, exc)
            return await self._log(Outcome(503, "deferred", "busy, deliver again"), trigger, True, **logged)

    async def _apply(
        self,
        trigger: str,
        member_id: str,
        document: dict[str, Any] | None,
        read_at: datetime,
        logged: dict[str, str],
    ) -> Outcome:
        async with self.db.transaction() as tx:
            if document is None:
                applied = await apply_member_deleted(tx, member_id, read_at)
            else:
                member = jsonapi.member_document(document)
                if member is None:
                    applied = None
                else:
                    applied = await apply_member(tx, member, read_at)
            detail = "member not readable" if applied is None else (applied.event or applied.outcome)
            await delivery_queries.record(
                tx, trigger=trigger, verified=True, outcome="applied", detail=detail, **logged
            )
        return Outcome(200, "applied", detail)

    @staticmethod
    def _document(body: bytes) -> dict[str, object]:
        try:
            document = json.loads(body)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    def _member_id(self, body: bytes) -> str | None:
        data = self._document(body).get("data")
        if not isinstance(data, dict) or data.get("type") != "member":
            return None
        member_id = data.get("id")
        # It goes into the API path we read: a UUID-like id or nothing.
        return member_id if isinstance(member_id, str) and MEMBER_ID.fullmatch(member_id) else None

    def _campaign_id(self, body: bytes) -> str | None:
        member = jsonapi.member_document(self._document(body))
        return member.campaign_id if member is not None else None
