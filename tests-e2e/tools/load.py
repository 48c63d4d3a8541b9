"""A bounded load of HTTP requests for the fault tests: many concurrent tasks, every answer kept.

`run_load` runs `workers` tasks (each an async function taking the client and the Tally) until
`duration` seconds have passed, under one `asyncio.timeout`; a worker records each request with
`Tally.request`, which times it and keeps its status, whether its body was our error envelope,
and any transport failure (a timeout or a dropped connection: what "hang" and "no answer" mean).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2


@dataclass(frozen=True)
class Outcome:
    kind: str  # "read" or "write", or any label the caller gives
    name: str  # what was asked, e.g. "GET /api/v1/events"
    status: int | None  # None: no HTTP answer at all (timeout, connection broken)
    seconds: float
    envelope: bool  # the body was {"success": false, "error": ...} (or a success envelope)
    error: str = ""
    started: float = 0.0  # monotonic time the request left


def is_envelope(response: httpx2.Response) -> bool:
    """A JSON body with the envelope's `success` flag; an error has its message too."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return False
    return body["success"] or isinstance(body.get("error"), str)


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    async def request(
        self, client: httpx2.AsyncClient, kind: str, method: str, url: str, *, name: str | None = None, **kwargs: Any
    ) -> httpx2.Response | None:
        """Send one request and record it; None when no answer came (recorded with status None)."""
        started = time.monotonic()
        label = name or f"{method} {url}"
        try:
            response = await client.request(method, url, **kwargs)
        except httpx2.HTTPError as exc:
            self.outcomes.append(
                Outcome(kind, label, None, time.monotonic() - started, False, f"{type(exc).__name__}: {exc}", started)
            )
            return None
        error = (
            ""
            if response.status_code < 400
            else f"{response.text[:300]} (request {response.headers.get('x-request-id')})"
        )
        self.outcomes.append(
            Outcome(
                kind, label, response.status_code, time.monotonic() - started, is_envelope(response), error, started
            )
        )
        return response

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    def statuses(self, kind: str) -> Counter[int | None]:
        return Counter(o.status for o in self.of(kind))

    def slowest(self, kind: str) -> float:
        return max((o.seconds for o in self.of(kind)), default=0.0)


Worker = Callable[[httpx2.AsyncClient, Tally], Awaitable[None]]


async def run_load(
    client: httpx2.AsyncClient,
    workers: Sequence[Worker],
    duration: float,
    *,
    during: Callable[[], Awaitable[Any]] | None = None,
    grace: float = 30.0,
) -> tuple[Tally, float]:
    """Run every worker in a loop for `duration` seconds (each iteration to its end), and
    `during()` beside them; returns the tally and the seconds the load really ran. The load is
    bounded by duration + grace: a request that never ends fails the test, it cannot hang it.
    `during()` is never cancelled (it must undo its fault); its own waits are bounded."""
    tally = Tally()
    stop = asyncio.Event()

    async def loop(worker: Worker) -> None:
        while not stop.is_set():
            await worker(client, tally)

    started = time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    side = asyncio.create_task(during()) if during is not None else None
    try:
        async with asyncio.timeout(duration + grace):
            tasks = [asyncio.create_task(loop(w)) for w in workers]
            await asyncio.sleep(duration)
            if side is not None:
                await asyncio.shield(side)  # the fault must be over (undone) before the load stops
            stop.set()
            await asyncio.gather(*tasks)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if side is not None:
            # Never cancelled: it undoes its fault in `finally`, under its own bounded waits.
            await asyncio.wait([side])
    return tally, time.monotonic() - started


def print_table(title: str, rows: Iterable[tuple[str, Any]]) -> None:
    """Two columns, for `pytest -s`: what was counted, and the count."""
    rows = [(label, str(value)) for label, value in rows]
    width = max([len(label) for label, _ in rows] + [len(title)])
    value_width = max([len(value) for _, value in rows] + [5])
    line = "-" * (width + value_width + 5)
    print(f"\n{line}\n {title}\n{line}")
    for label, value in rows:
        print(f" {label.ljust(width)}  {value.rjust(value_width)}")
    print(line)


def status_rows(prefix: str, counts: Counter[int | None]) -> list[tuple[str, int]]:
    return [
        (f"{prefix} {'no answer' if status is None else status}", n)
        for status, n in sorted(counts.items(), key=lambda kv: -1 if kv[0] is None else kv[0])
    ]
