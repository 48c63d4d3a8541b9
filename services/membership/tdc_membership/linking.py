"""Linking a Patreon account to one of ours with OAuth 2 (authorization code, PKCE S256).

The state handed to the browser is random, stored only as its SHA-256, bound to the account
that asked, good for one callback within `TDC_MEMBERSHIP_LINK_STATE_TTL_SECONDS` (10 minutes).
The callback consumes it before anything else, so a replayed or forged callback learns
nothing and changes nothing. A Patreon user links to one of our accounts at most (the unique
key on supporters.user_id and the check below), and an account to one Patreon user.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from tdc_shared.db import Database, Session

from . import jsonapi
from .patreon import PatreonClient, PatreonError
from .queries import links as link_queries
from .queries import supporters as supporter_queries
from .queries.common import utc_in, utc_now
from .queries.supporters import Standing
from .settings import MembershipSettings
from .standing import ACTIVATED, DEACTIVATED, announce, apply_member

log = logging.getLogger(__name__)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LinkStart:
    authorization_url: str
    expires_at: datetime


async def start(db: Database, settings: MembershipSettings, client: PatreonClient, user_id: int) -> LinkStart:
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43-128
    expires_at = utc_in(settings.membership_link_state_ttl_seconds)
    async with db.transaction() as tx:
        await link_queries.create(tx, state_hash(state), user_id, verifier, expires_at)
    return LinkStart(client.authorize_url(state=state, code_challenge=code_challenge(verifier)), expires_at)


def frontend_redirect(settings: MembershipSettings, outcome: str, reason: str | None = None) -> str:
    """TDC_FRONTEND_URL with `patreon=linked`, or `patreon=error&reason=...`, added to its query."""
    parts = urlsplit(settings.frontend_url)
    extra = {"patreon": outcome, **({"reason": reason} if reason else {})}
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class LinkRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _consume_state(db: Database, state: str | None) -> tuple[int, str]:
    """(user id, PKCE verifier) of a good state, which is used up by this call."""
    if not state or len(state) > 200:
        raise LinkRefused("invalid_state")
    async with db.transaction() as tx:
        row = await link_queries.take(tx, state_hash(state))
        if row is None:
            raise LinkRefused("invalid_state")
        if row["used_at"] is not None:
            raise LinkRefused("state_used")
        await link_queries.mark_used(tx, row["state_hash"])
        expired = row["expires_at"] <= utc_now()
    if expired:
        raise LinkRefused("state_expired")
    return int(row["user_id"]), str(row["code_verifier"])


async def callback(
    db: Database,
    settings: MembershipSettings,
    client: PatreonClient,
    *,
    code: str | None,
    state: str | None,
    error: str | None,
) -> str | None:
    """Finish a link; None when linked, else the reason for the frontend."""
    try:
        user_id, verifier = await _consume_state(db, state)
        if error:
            raise LinkRefused("denied" if error == "access_denied" else "patreon_error")
        if not code or len(code) > 512:
            raise LinkRefused("invalid_request")
        try:
            token = await client.exchange_code(code, verifier)
        except PatreonError as exc:
            log.info("patreon code exchange failed: %s", exc)
            raise LinkRefused("exchange_failed") from exc
        read_at = utc_now()
        try:
            identity = await client.identity(token)
        except PatreonError as exc:
            log.info("patreon identity read failed: %s", exc)
            raise LinkRefused("identity_failed") from exc
        patreon_user_id, _, _ = jsonapi.identity_user(identity)
        if patreon_user_id is None:
            raise LinkRefused("identity_failed")
        member = jsonapi.identity_membership(identity, settings.membership_patreon_campaign_id)
        async with db.transaction() as tx:
            await link_account(tx, user_id, patreon_user_id, member, read_at)
    except LinkRefused as refused:
        return refused.reason
    return None


async def link_account(
    tx: Session, user_id: int, patreon_user_id: str, member: jsonapi.MemberState | None, read_at: datetime
) -> None:
    mine = await supporter_queries.lock_by_user(tx, user_id)
    if mine is not None and mine["patreon_user_id"] != patreon_user_id:
        raise LinkRefused("unlink_first")
    row = await supporter_queries.lock_by_patreon_user(tx, patreon_user_id)
    if row is not None and row["user_id"] is not None and int(row["user_id"]) != user_id:
        raise LinkRefused("already_linked")
    if row is None:
        await supporter_queries.insert_bare(tx, patreon_user_id)
        row = await supporter_queries.lock_by_patreon_user(tx, patreon_user_id)
        assert row is not None
    if row["user_id"] is None:
        await supporter_queries.link(tx, row["id"], user_id)
        standing = Standing.of(row)
        if standing.active:
            # Patreon already told us this member supports us: now the account does too.
            await announce(tx, ACTIVATED, {**row, "user_id": user_id}, standing, row["patron_status"])
    if member is not None:
        # The member as Patreon reports it to the member right now (newer reads still win).
        await apply_member(tx, member, read_at)


async def unlink(tx: Session, user_id: int) -> bool:
    """Drop the account's link; False when there was none."""
    row = await supporter_queries.lock_by_user(tx, user_id)
    if row is None:
        return False
    standing = Standing.of(row)
    await supporter_queries.unlink(tx, row["id"])
    if standing.active:
        await announce(tx, DEACTIVATED, row, standing, row["patron_status"])
    return True
