"""Workers of several replicas recording outcomes at once: no deadlock on the shared state row."""

from __future__ import annotations

import asyncio

from tdc_integration.queries import state as state_queries


async def test_outcomes_recorded_at_once_never_deadlock(harness):
    async with harness.db.transaction() as tx:  # the row exists, as after the first push
        await state_queries.succeeded(tx, "google")

    async def record(outcome) -> None:
        async with harness.db.transaction() as tx:
            await outcome(tx, "google")

    async with asyncio.timeout(30):
        results = await asyncio.gather(
            *(record(state_queries.succeeded if n % 2 else state_queries.failed) for n in range(8)),
            return_exceptions=True,
        )
    assert [r for r in results if r is not None] == []
    async with harness.db.session() as s:
        row = await state_queries.get(s, "google")
    assert row["last_success_at"] is not None and row["last_failure_at"] is not None
