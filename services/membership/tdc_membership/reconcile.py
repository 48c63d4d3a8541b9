"""Reconciliation: page through the campaign's members and make our table match.

One replica at a time: a run needs the lease in `sync_lease` (a row claimed with a conditional
UPDATE, renewed with every page, released at the end). Each page is applied in one transaction
together with the cursor of the next page, so a run whose replica dies has either applied a
page and saved where to go on, or neither; whoever claims the expired lease next resumes that
run from its saved cursor (`resumed` counts how often). Pages applied twice change nothing
(see standing.py). Only a run that read every page deactivates the supporters it did not see,
and never one whose state was read after the run began (a webhook got there first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from tdc_shared.db import Database, DatabaseUnavailable

from . import jsonapi
from .patreon import PatreonClient, PatreonError
from .queries import deliveries as delivery_queries
from .queries import links as link_queries
from .queries import sync as sync_queries
from .queries import tiers as tier_queries
from .queries.common import utc_now
from .queries.supporters import lock_unseen_active
from .settings import MembershipSettings
from .standing import apply_gone, apply_member, record_tiers

log = logging.getLogger(__name__)

MAX_PAGES = 10_000  # a cursor that never ends is a bug on one side or the other: stop somewhere


class LeaseLost(Exception):
    """Our lease expired and another replica took the run over."""


def holder_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Reconciler:
    def __init__(self, db: Database, settings: MembershipSettings, client: PatreonClient) -> None:
        self.db = db
        self.settings = settings
        self.client = client
        self.holder = holder_name()
        self.task: asyncio.Task[int | None] | None = None
        self._running = False  # the lease is per replica: within one, a flag keeps runs apart

    @property
    def lease_seconds(self) -> float:
        return self.settings.membership_reconcile_lease_seconds

    async def claim(self) -> bool:
        if self._running:
            return False
        if not await sync_queries.claim(self.db, self.holder, self.lease_seconds):
            return False
        self._running = True
        return True

    async def run(self, trigger: str) -> int | None:
        """Claim the lease and run (or resume) a reconciliation; None when another replica holds it."""
        if not await self.claim():
            return None
        return await self.run_claimed(trigger)

    async def run_if_due(self, trigger: str) -> int | None:
        """For the schedule: claim, then check again under the lease that a run is still due
        (another replica, or an admin, may have just finished one)."""
        if not await self.claim():
            return None
        try:
            still_due = await due(self.db, self.settings)
        except BaseException:
            self._running = False
            await sync_queries.release(self.db, self.holder)
            raise
        if not still_due:
            self._running = False
            await sync_queries.release(self.db, self.holder)
            return None
        return await self.run_claimed(trigger)

    def start_in_background(self, trigger: str) -> None:
        """After a successful `claim()`: run without making the caller wait."""
        self.task = asyncio.create_task(self.run_claimed(trigger), name="membership-reconcile")

    async def run_claimed(self, trigger: str) -> int | None:
        try:
            async with self.db.transaction() as tx:
                unfinished = await sync_queries.unfinished(tx)
                if unfinished is not None:
                    run_id, cursor = int(unfinished["id"]), unfinished["next_cursor"]
                    await sync_queries.note_resumed(tx, run_id)
                    log.info("resuming reconciliation run %d", run_id)
                else:
                    run_id, cursor = await sync_queries.start(tx, trigger), None
            await self._run(run_id, cursor)
            return run_id
        finally:
            self._running = False
            with contextlib.suppress(Exception):
                await asyncio.shield(sync_queries.release(self.db, self.holder))

    async def _run(self, run_id: int, cursor: str | None) -> None:
        throttled_before = self.client.counters.throttled
        try:
            await self._campaign()
            await self._pages(run_id, cursor)
            deactivated = await self._deactivate_unseen(run_id)
        except LeaseLost:
            log.warning("reconciliation run %d: lease lost, another replica carries on", run_id)
            return
        except PatreonError as exc:
            log.warning("reconciliation run %d failed: %s", run_id, exc)
            await self._finish(run_id, "failed", throttled_before, error=str(exc))
            return
        except (asyncio.CancelledError, DatabaseUnavailable):
            # Left `running` with its cursor: the next holder of the lease resumes it.
            raise
        except Exception as exc:
            log.exception("reconciliation run %d failed", run_id)
            await self._finish(run_id, "failed", throttled_before, error=f"{type(exc).__name__}: {exc}")
            return
        await self._finish(run_id, "succeeded", throttled_before, deactivated=deactivated)

    async def _finish(
        self, run_id: int, status: str, throttled_before: int, *, deactivated: int = 0, error: str | None = None
    ) -> None:
        async with self.db.transaction() as tx:
            await sync_queries.finish(
                tx,
                run_id,
                status,
                deactivated=deactivated,
                throttled=self.client.counters.throttled - throttled_before,
                error=error,
            )

    async def _campaign(self) -> None:
        document = await self.client.campaign()
        campaign_id, url, patron_count, tiers = jsonapi.campaign_of(document)
        async with self.db.transaction() as tx:
            await record_tiers(tx, tiers)
            await tier_queries.save_campaign(
                tx, campaign_id or self.settings.membership_patreon_campaign_id, url, patron_count
            )

    async def _pages(self, run_id: int, cursor: str | None) -> None:
        restarted = cursor is None
        for _ in range(MAX_PAGES):
            read_at = utc_now()  # the moment we asked: the page shows Patreon at or after it
            try:
                document = await self.client.members_page(cursor)
            except PatreonError as exc:
                if not restarted and exc.status == 400:
                    # A saved cursor Patreon no longer accepts: read again from the start
                    # (pages already applied are applied again, harmlessly).
                    log.info("reconciliation run %d: saved cursor refused, starting over", run_id)
                    async with self.db.transaction() as tx:
                        await sync_queries.restart_pages(tx, run_id)
                    cursor, restarted = None, True
                    continue
                raise
            members = jsonapi.members_page(document)
            next_cursor = jsonapi.next_cursor(document)
            async with self.db.transaction() as tx:
                if not await sync_queries.renew(tx, self.holder, self.lease_seconds):
                    raise LeaseLost()
                # Every tier of the page before any supporter: the lock order webhooks use too.
                await record_tiers(tx, [t for member in members for t in member.tiers])
                changed = 0
                for member in members:
                    applied = await apply_member(tx, member, read_at, run_id=run_id)
                    changed += applied.event is not None
                await sync_queries.save_page(tx, run_id, next_cursor, len(members), changed)
            if next_cursor is None or next_cursor == cursor:
                return
            cursor = next_cursor
        raise PatreonError(f"members list did not end within {MAX_PAGES} pages")

    async def _deactivate_unseen(self, run_id: int) -> int:
        deactivated = 0
        async with self.db.session() as s:
            started_at = await sync_queries.started_at(s, run_id)
        while True:
            async with self.db.transaction() as tx:
                if not await sync_queries.renew(tx, self.holder, self.lease_seconds):
                    raise LeaseLost()
                rows = await lock_unseen_active(tx, run_id, started_at)
                for row in rows:
                    deactivated += await apply_gone(tx, row, utc_now())
            if not rows:
                return deactivated


async def due(db: Database, settings: MembershipSettings) -> bool:
    """A run is due when one was interrupted, or the last one began an interval ago (or never ran)."""
    async with db.session() as s:
        if await sync_queries.unfinished(s) is not None:
            return True
        interval = settings.membership_reconcile_interval_seconds
        if interval <= 0:
            return False
        last = await sync_queries.last_finished_start(s)
    return last is None or last + timedelta(seconds=interval) <= utc_now()


STOP_GRACE_SECONDS = 10.0
HOUSEKEEPING_EVERY_SECONDS = 3600.0


async def housekeeping(db: Database, settings: MembershipSettings) -> None:
    """Forget link states a day past their expiry and deliveries past their retention."""
    async with db.transaction() as tx:
        await link_queries.forget_old(tx)
        await delivery_queries.forget_old(tx, settings.membership_deliveries_retention_days)


def scheduler(reconciler_attr: str = "reconciler"):
    """The schedule as an app component: every few seconds, check whether a run is due and
    whether this replica can claim it."""

    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        settings: MembershipSettings = app.state.settings
        stopping = asyncio.Event()

        async def loop() -> None:
            next_cleanup = 0.0
            # The flag as well as the cancellation: on 3.11 a driver's wait_for can swallow a
            # cancellation, and the loop must still end.
            while not stopping.is_set():
                if time.monotonic() >= next_cleanup:
                    next_cleanup = time.monotonic() + HOUSEKEEPING_EVERY_SECONDS
                    try:
                        await housekeeping(app.state.db, settings)
                    except Exception as exc:
                        log.warning("membership housekeeping skipped: %s", exc)
                reconciler: Reconciler | None = getattr(app.state, reconciler_attr, None)
                try:
                    if reconciler is not None and await due(reconciler.db, settings):
                        await reconciler.run_if_due("schedule")
                except DatabaseUnavailable as exc:
                    log.warning("reconciliation check skipped: %s", exc)
                except Exception:
                    log.exception("scheduled reconciliation failed")
                await asyncio.sleep(settings.membership_reconcile_check_seconds)

        task = asyncio.create_task(loop(), name="membership-reconcile-schedule")
        try:
            yield
        finally:
            stopping.set()
            reconciler = getattr(app.state, reconciler_attr, None)
            tasks = [task] + ([reconciler.task] if reconciler is not None and reconciler.task is not None else [])
            for pending in tasks:
                pending.cancel()
            _, left = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
            if left:
                log.warning("reconciliation tasks did not stop: %s", [t.get_name() for t in left])

    return component
