"""The push worker: claims due pushes (SELECT ... FOR UPDATE SKIP LOCKED, with a lease, so
replicas share the work and never push one row twice at once) and performs them.

A push that fails for now is parked: the same loop is the sweep, taking parked rows again once
their `next_attempt_at` comes. Nothing is lost: a row leaves `pending`/`failed` only when its
push succeeded or an admin dropped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx2
from fastapi import FastAPI

from tdc_shared.db import Database, DatabaseUnavailable, Session

from .clients.base import Backoff, CallLog, PushFailed
from .clients.facebook import FacebookPage
from .clients.google import CredentialsError, GoogleCalendar
from .queries import events as event_queries
from .queries import logs as log_queries
from .queries import pushes as push_queries
from .queries import sl as sl_queries
from .queries import state as state_queries
from .secrets import SecretBox
from .settings import IntegrationSettings
from .status import INTEGRATIONS, facebook_token, google_targets
from .status import read as read_status
from .timefmt import utc_now

log = logging.getLogger(__name__)

BATCH = 10
HOUSEKEEPING_EVERY = 600.0
_wakers: set[asyncio.Event] = set()


def wake_workers() -> None:
    """Called after a commit that made pushes due: the workers of this process look at once."""
    for event in list(_wakers):
        event.set()


class PushWorker:
    def __init__(self, settings: IntegrationSettings, db: Database, http: httpx2.AsyncClient, box: SecretBox) -> None:
        self.settings = settings
        self.db = db
        self.box = box
        calls = CallLog(db)
        backoff = Backoff(
            settings.integration_push_attempts,
            settings.integration_backoff_base_seconds,
            settings.integration_backoff_max_seconds,
        )
        self.google: GoogleCalendar | None = None
        self.google_problem: str | None = None
        if google_targets(settings):
            try:
                self.google = GoogleCalendar(settings, http, calls, backoff)
            except CredentialsError as exc:
                # Said in the status (and the log), never fatal: the rest of the service runs.
                self.google_problem = str(exc)
                log.error("Google Calendar disabled: %s", exc)
        self.facebook = FacebookPage(settings, http, calls, backoff) if settings.facebook_configured else None
        self._wake = asyncio.Event()

    @property
    def problems(self) -> dict[str, str | None]:
        return {"google": self.google_problem}

    def targets(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.google is not None:
            out += [("google", t) for t in self.google.targets]
        if self.facebook is not None:
            out.append(("facebook", "page"))
        return out

    async def callable_integrations(self) -> tuple[list[str], str | None]:
        """The integrations that may be called now, and the Facebook token to call with."""
        names, token = [], None
        async with self.db.session() as s:
            for name in INTEGRATIONS:
                status = await read_status(s, name, self.settings, self.box, self.problems.get(name))
                if not status.callable:
                    continue
                if name == "google" and self.google is None:
                    continue
                if name == "facebook":
                    token = facebook_token(self.settings, await state_queries.get(s, name), self.box)
                names.append(name)
        return names, token

    async def run_once(self) -> int:
        """Claim and perform one batch of due pushes; the number performed."""
        names, token = await self.callable_integrations()
        async with self.db.transaction() as tx:
            claims = await push_queries.claim(tx, names, BATCH, self.settings.integration_push_lease_seconds)
        for claim in claims:
            await self.perform(claim, token)
        return len(claims)

    async def perform(self, claim: push_queries.Claim, facebook_token: str | None) -> None:
        async with self.db.session() as s:
            row = await event_queries.find(s, claim.catalog_id)
            link = await push_queries.link(s, claim.integration, claim.target, claim.catalog_id)
        try:
            if row is None:
                outcome = "no such event"
            elif claim.integration == "google" and self.google is not None:
                outcome = await self.google.push(claim.target, row)
            elif claim.integration == "facebook" and self.facebook is not None and facebook_token:
                outcome, remote = await self.facebook.push(row, link, facebook_token)
                async with self.db.transaction() as tx:
                    await push_queries.save_link(
                        tx, "facebook", claim.target, claim.catalog_id, sequence=int(row["sequence"]), **remote
                    )
            else:
                raise PushFailed(f"{claim.integration} cannot be called now", "park")
        except PushFailed as exc:
            await self._failed(claim, exc)
            return
        except Exception as exc:
            log.exception("push %s failed unexpectedly", claim.id)
            await self._failed(claim, PushFailed(f"{type(exc).__name__}: {exc}"))
            return

        async def record(tx: Session) -> None:
            if claim.integration == "google" and row is not None:
                await push_queries.save_link(
                    tx,
                    "google",
                    claim.target,
                    claim.catalog_id,
                    remote_id=None,
                    sequence=int(row["sequence"]),
                    fingerprint=None,
                    removed=row["status"] == "deleted",
                )
            await push_queries.finish(tx, claim)
            await state_queries.succeeded(tx, claim.integration)

        # The push happened: recording it must not be lost to a deadlock with another replica's
        # worker (the row would wait out its lease, and the rest of this batch with it).
        await self.db.retrying(record)
        log.info("push %s (%s/%s event %s): %s", claim.id, claim.integration, claim.target, claim.catalog_id, outcome)

    async def _failed(self, claim: push_queries.Claim, exc: PushFailed) -> None:
        message = str(exc)
        async with self.db.transaction() as tx:
            await state_queries.failed(tx, claim.integration)
            if exc.kind == "reauth":
                await state_queries.needs_reauth(tx, claim.integration, message)
                # Waits, pending, for the new token (which makes every waiting push due again).
                await push_queries.postpone(tx, claim, message)
            elif exc.kind == "pause" and exc.until is not None:
                await state_queries.pause(tx, claim.integration, exc.until, message)
                await push_queries.postpone(tx, claim, message)
            elif exc.kind == "stop":
                await push_queries.park(tx, claim, message, None)
            else:
                retry_at = utc_now() + timedelta(seconds=self.settings.integration_sweep_seconds)
                await push_queries.park(tx, claim, message, retry_at)
        log.warning("push %s (%s/%s) %s: %s", claim.id, claim.integration, claim.target, exc.kind, message)

    async def run(self) -> None:
        _wakers.add(self._wake)
        since_housekeeping = HOUSEKEEPING_EVERY
        try:
            while True:
                self._wake.clear()
                try:
                    done = await self.run_once()
                except DatabaseUnavailable as exc:
                    log.warning("push worker waiting for the database: %s", exc)
                    done = 0
                except Exception:
                    log.exception("push worker round failed")
                    done = 0
                if since_housekeeping >= HOUSEKEEPING_EVERY:
                    since_housekeeping = 0.0
                    await self._forget_old_rows()
                if done:
                    continue
                poll = self.settings.integration_worker_poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)
                since_housekeeping += poll
        finally:
            _wakers.discard(self._wake)

    async def _forget_old_rows(self) -> None:
        """Bounded retention: call logs, Second Life nonces past the window, visitor reports, codes."""
        settings = self.settings
        cleanups = (
            lambda tx: log_queries.forget_older_than(tx, settings.integration_log_retention_days),
            lambda tx: sl_queries.forget_nonces(tx, settings.integration_sl_window_seconds * 2),
            lambda tx: sl_queries.forget_visitors(tx, settings.integration_sl_visitors_retention_days),
            sl_queries.forget_expired_codes,
        )
        with contextlib.suppress(DatabaseUnavailable):
            for cleanup in cleanups:
                for _ in range(100):
                    async with self.db.transaction() as tx:
                        if not await cleanup(tx):
                            break


def push_worker() -> Any:
    """The worker as a ServiceSpec component; `app.state.push_worker` for routes and tests."""

    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[PushWorker]:
        settings: IntegrationSettings = app.state.settings
        timeout = httpx2.Timeout(settings.integration_http_timeout_seconds)
        async with httpx2.AsyncClient(timeout=timeout) as http:
            worker = PushWorker(settings, app.state.db, http, app.state.secret_box)
            # Replicas starting together rewrite the same rows: a deadlock victim runs again.
            targets = worker.targets()
            await app.state.db.retrying(lambda tx: push_queries.configure_targets(tx, targets))
            app.state.push_worker = worker
            task = None
            if settings.integration_worker_enabled:
                task = asyncio.create_task(worker.run(), name="integration-push-worker")
            try:
                yield worker
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    return component
