"""SQL of scheduled publication: claiming the posts that are due.

`FOR UPDATE SKIP LOCKED` makes the claim exclusive across replicas: a post locked by one
replica's open transaction is invisible to every other claimer, and once that transaction
commits the post is `published` and no longer matches. So each post is published, and its
event written, by exactly one replica, however many poll at once.
"""

from __future__ import annotations

from datetime import datetime

from tdc_shared.db import Session

_DUE = (
    "SELECT id FROM posts WHERE status = %s AND publish_at <= %s "
    "ORDER BY publish_at, id LIMIT %s FOR UPDATE SKIP LOCKED"
)


async def claim_due(tx: Session, now: datetime, limit: int) -> list[int]:
    """Lock up to `limit` due posts for this transaction and mark them published; call it first
    in its transaction."""
    # Under REPEATABLE READ the locking read also locks the gaps around the rows it claims, and
    # another claimer moving its own rows' index entries into such a gap (status -> published)
    # would wait for this transaction instead of skipping past it. Record locks are all we need.
    await tx.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    rows = await tx.fetch_all(_DUE, ("scheduled", now, limit))
    ids = [int(r["id"]) for r in rows]
    for post_id in ids:
        # Published "at" the time it was promised for, even when the service was down then.
        await tx.execute(
            "UPDATE posts SET status = %s, published_at = publish_at WHERE id = %s AND status = %s",
            ("published", post_id, "scheduled"),
        )
    return ids
