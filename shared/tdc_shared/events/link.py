"""One AMQP connection per process's bus, reopened with backoff whenever it drops.

We supervise a plain connection ourselves instead of aio-pika's robust one: a robust
connection does not replay publishes that failed during a reconnect and hides the moment the
broker went away, and every part of the bus needs that moment (the relay stops and retries
its rows, `/readyz` turns red, consumers re-declare their queues). Each part registers a
`LinkUser`; after every (re)connection its `on_connect` opens its own channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.05
STOP_GRACE_SECONDS = 5.0


async def stop_tasks(tasks: list[asyncio.Task[Any]], what: str) -> None:
    """Cancel `tasks` and wait a bounded time: a task that swallowed its cancellation (the
    drivers use wait_for, which can on 3.11) must not hang the service's shutdown."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
    if pending:
        log.warning("%s: %d task(s) did not stop: %s", what, len(pending), [t.get_name() for t in pending])


class LinkUser(Protocol):
    async def on_connect(self, connection: AbstractConnection) -> None: ...

    def on_disconnect(self) -> None: ...


class BrokerLink:
    def __init__(self, url: str, *, name: str, max_backoff: float = 10.0, connect_timeout: float = 10.0) -> None:
        self._url = url
        self._name = name
        self._max_backoff = max_backoff
        self._connect_timeout = connect_timeout
        self._users: list[LinkUser] = []
        self._lost = asyncio.Event()
        self.connection: AbstractConnection | None = None
        self.ready = asyncio.Event()
        self.connections_made = 0
        # Told True when the connection and every user are set up, False when it is lost:
        # what a gauge needs to follow the connection itself, not whoever asks /readyz.
        self.on_state: Callable[[bool], None] = lambda up: None

    def add_user(self, user: LinkUser) -> None:
        self._users.append(user)

    async def alive(self) -> bool:
        return self.connection is not None and not self.connection.is_closed and self.ready.is_set()

    def watch_channel(self, channel: AbstractChannel) -> None:
        """A channel the broker closed (a channel-level error) takes the connection down with it,
        so every part is set up again from scratch rather than running half-wired."""
        connection = self.connection

        def closed(*_: object) -> None:
            if connection is not None and connection is self.connection and not connection.is_closed:
                log.info("a bus channel closed; reopening the broker connection")
                self._lost.set()

        channel.close_callbacks.add(closed)

    async def run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            connection: AbstractConnection | None = None
            try:
                self._lost = asyncio.Event()
                lost = self._lost
                connection = await aio_pika.connect(
                    self._url,
                    timeout=self._connect_timeout,
                    client_properties={"connection_name": f"{self._name}@{socket.gethostname()}:{os.getpid()}"},
                )
                connection.close_callbacks.add(lambda *_, lost=lost: lost.set())
                self.connection = connection
                for user in self._users:
                    await user.on_connect(connection)
            except asyncio.CancelledError:
                await self._drop(connection)
                raise
            except Exception as exc:
                # Unreachable, refused credentials, or a declaration the broker rejects (a queue
                # that exists with other arguments): all keep /readyz red until fixed.
                log.warning("cannot set up the bus on the broker, retrying in %.2fs: %r", delay, exc)
                await self._drop(connection)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            self.connections_made += 1
            if self.connections_made > 1:
                log.info("broker connection restored")
            self.ready.set()
            self.on_state(True)
            delay = FIRST_RETRY_SECONDS
            try:
                await lost.wait()
            finally:
                await self._drop(connection)
            log.warning("lost the broker connection; reconnecting")

    async def _drop(self, connection: AbstractConnection | None) -> None:
        self.ready.clear()
        self.on_state(False)
        self.connection = None
        for user in self._users:
            try:
                user.on_disconnect()
            except Exception:
                log.exception("bus disconnect hook failed")
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
