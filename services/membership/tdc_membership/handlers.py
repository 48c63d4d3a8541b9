"""Every event the membership service consumes, each run once through the inbox.

auth.user.deleted: the account is gone, so is what we hold about it: the link (an active
supporter's standing for that account ends, announced as `membership.supporter.deactivated`),
the wall choices, the name and address copied from Patreon, and unfinished link states. The
member record itself stays, without them: the person may still pledge to the campaign, and the
next reconciliation reads what Patreon tells the creator about its members.
"""

from __future__ import annotations

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry

from .queries import links as link_queries
from .queries import supporters as supporter_queries
from .queries.supporters import Standing
from .standing import DEACTIVATED, announce

handlers = HandlerRegistry()


@handlers.on("auth.user.deleted")
async def forget_deleted_user(tx: Session, event: Event) -> None:
    user_id = event.data.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return  # tolerant reader: nothing we can act on
    await link_queries.forget_user(tx, user_id)
    row = await supporter_queries.lock_by_user(tx, user_id)
    if row is None:
        return
    standing = Standing.of(row)
    if standing.active:
        await announce(tx, DEACTIVATED, row, standing, row["patron_status"])
    await supporter_queries.erase_personal(tx, row["id"])
