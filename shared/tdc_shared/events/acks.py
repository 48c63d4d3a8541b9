"""Coalesced acks for one consumer channel: one `basic.ack multiple=True` per run of settled
deliveries instead of one frame (and one socket write) per message.

A multiple-ack on tag T acks every unacked delivery of the channel up to T, so it is only sent
for a run of consecutive tags, starting at the lowest delivery still open, whose events all
committed. A delivery that did not succeed (waiting for its retry nack, being dead-lettered)
is `parked`: it blocks a multiple-ack across it until its own nack or ack has been sent, so a
nack is never swallowed. Committed deliveries behind a parked one are acked one by one rather
than held, so a poison message never holds back its neighbours' acks. Committed deliveries
behind one that is still being handled are held briefly: that one's commit acks them all.

Frames go out in the order they are decided (one lock), which matters: a multiple-ack sent
ahead of a nack for a lower tag would ack that lower tag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

OPEN, DONE, PARKED = 0, 1, 2


class AckTracker:
    def __init__(self, channel: Any) -> None:
        self.channel = channel  # the aiormq channel the deliveries came on
        self._state: dict[int, int] = {}  # delivery tag -> state, in ascending tag order
        self._lock = asyncio.Lock()

    def received(self, tag: int) -> None:
        # The broker numbers deliveries of a channel 1, 2, 3...: insertion order is tag order.
        self._state[tag] = OPEN

    def park(self, tag: int) -> None:
        if tag in self._state:
            self._state[tag] = PARKED

    def forget(self) -> None:
        """The channel is gone: the broker redelivers whatever was not acked."""
        self._state.clear()

    async def done(self, tags: list[int]) -> None:
        """These deliveries' effects committed: ack them as soon as that is safe."""
        for tag in tags:
            if tag in self._state:
                self._state[tag] = DONE
        await self._flush()

    async def settle(self, tag: int, send: Callable[[], Awaitable[None]]) -> None:
        """Send this delivery's own ack/nack (`send`) while nothing can ack across it."""
        async with self._lock:
            if tag not in self._state:
                return
            self._state[tag] = PARKED
            try:
                await send()
            finally:
                self._state.pop(tag, None)
        await self._flush()

    async def _flush(self) -> None:
        async with self._lock:
            run_end: int | None = None
            singles: list[int] = []
            blocked_by_parked = False
            for tag, state in self._state.items():
                if state == OPEN:
                    break
                if state == PARKED:
                    blocked_by_parked = True
                elif blocked_by_parked:
                    singles.append(tag)
                else:
                    run_end = tag
            if run_end is None and not singles:
                return
            if run_end is not None:
                for tag in list(self._state):
                    if tag > run_end:
                        break
                    del self._state[tag]
            for tag in singles:
                del self._state[tag]
            # Decided and removed above, before any await: a concurrent flush cannot send them again.
            if run_end is not None:
                await self.channel.basic_ack(delivery_tag=run_end, multiple=True, wait=False)
            for tag in singles:
                await self.channel.basic_ack(delivery_tag=tag, wait=False)
