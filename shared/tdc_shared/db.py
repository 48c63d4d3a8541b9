"""MySQL access on mysql-connector-python's asyncio API, no ORM.

The driver's own pools raise `PoolError` the instant they are empty and open every
connection eagerly at start-up, so a burst above the pool size becomes a 500 and a
database that is down at boot kills the service. `Database` keeps a small pool of its own:
connections open lazily, a caller waits (bounded by `wait_seconds`) for a free one, and
every failure to reach the server becomes `DatabaseUnavailable`, which the envelope
handlers turn into a 503.

SQL is always parameterized: `%s` placeholders and a params tuple, never formatting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import mysql.connector.aio as mysql_aio
from mysql.connector import errors as mysql_errors

log = logging.getLogger(__name__)
T = TypeVar("T")
DEADLOCK = 1213  # ER_LOCK_DEADLOCK: "Deadlock found when trying to get lock; try restarting transaction"
LOCK_WAIT_TIMEOUT = 1205  # ER_LOCK_WAIT_TIMEOUT: "Lock wait timeout exceeded; try restarting transaction"
LOCK_CONFLICTS = frozenset({DEADLOCK, LOCK_WAIT_TIMEOUT})

Row = dict[str, Any]
Params = Sequence[Any] | dict[str, Any] | None

# Errors that mean "the server is not there (any more)", as opposed to a bad statement.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    mysql_errors.InterfaceError,
    mysql_errors.OperationalError,
    OSError,
    asyncio.TimeoutError,
)


# A connection idle for longer than this is pinged before it is handed out again.
IDLE_PING_AFTER_SECONDS = 10.0


class DatabaseUnavailable(Exception):
    """The database could not be reached, or no connection was free in time."""


@dataclass(frozen=True)
class MySQLAddress:
    host: str
    port: int
    user: str
    password: str
    ssl_disabled: bool

    @classmethod
    def parse(cls, url: str) -> MySQLAddress:
        """`mysql://user:password@host:port?ssl=required` (TLS off unless asked for)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise ValueError(f"TDC_MYSQL_URL must start with mysql://, got {parts.scheme!r}")
        ssl = parse_qs(parts.query).get("ssl", ["disabled"])[0]
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            ssl_disabled=ssl != "required",
        )

    def connect_args(self, database: str | None, timeout: float) -> dict[str, Any]:
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            # Without an explicit collation the driver asks a server reporting >= 8 for
            # utf8mb4_0900_ai_ci, which MariaDB rejects.
            "charset": "utf8mb4",
            "collation": "utf8mb4_unicode_ci",
            "autocommit": False,
            "connection_timeout": max(1, int(timeout)),
            "ssl_disabled": self.ssl_disabled,
            "time_zone": "+00:00",
        }
        if database:
            args["database"] = database
        return args


async def connect(url: str, database: str | None = None, connect_timeout: float = 5.0) -> Any:
    """One raw connection (for migrations and tooling), with our charset and UTC session."""
    address = MySQLAddress.parse(url)
    try:
        return await asyncio.wait_for(
            mysql_aio.connect(**address.connect_args(database, connect_timeout)), connect_timeout
        )
    except _CONNECTION_ERRORS as exc:
        raise DatabaseUnavailable(f"cannot reach MySQL at {address.host}:{address.port}: {exc}") from exc
    except TypeError as exc:
        # mysql-connector-python 26.x asked for TLS by a server without it reads a cipher that
        # is not there and fails with this instead of saying so.
        if address.ssl_disabled:
            raise
        raise DatabaseUnavailable(
            f"MySQL at {address.host}:{address.port} did not start TLS, and the URL asks for ssl=required"
        ) from exc


class Session:
    """One checked-out connection with query helpers; see `Database.transaction`."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []
        self._settled = False  # committed or rolled back by `Database.transaction`

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this session's transaction has committed (not on rollback)."""
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        cursor = await self.conn.cursor(dictionary=True)
        try:
            await cursor.execute(sql, params or ())
            rows = await cursor.fetchall()
        finally:
            await cursor.close()
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        cursor = await self.conn.cursor(dictionary=True)
        try:
            await cursor.execute(sql, params or ())
            return list(await cursor.fetchall())
        finally:
            await cursor.close()

    async def fetch_value(self, sql: str, params: Params = None) -> Any:
        row = await self.fetch_one(sql, params)
        return next(iter(row.values())) if row else None

    async def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement; returns the new row id for an INSERT, else the affected row count."""
        cursor = await self.conn.cursor()
        try:
            await cursor.execute(sql, params or ())
            return int(cursor.lastrowid or cursor.rowcount)
        finally:
            await cursor.close()

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        cursor = await self.conn.cursor()
        try:
            await cursor.executemany(sql, list(rows))
            return int(cursor.rowcount)
        finally:
            await cursor.close()


class Database:
    """A waiting connection pool bound to one schema."""

    def __init__(
        self,
        url: str,
        schema: str,
        *,
        pool_size: int = 10,
        wait_seconds: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self.wait_seconds = wait_seconds
        self.connect_timeout = connect_timeout
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[tuple[Any, float]] = []  # (connection, monotonic time it was released)
        self._all: set[Any] = set()
        self._closed = False

    # -- pool -------------------------------------------------------------------------------

    async def _acquire(self) -> Any:
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_seconds)
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                f"no database connection free within {self.wait_seconds:g}s (pool size {self.pool_size})"
            ) from exc
        try:
            while self._idle:
                conn, released_at = self._idle.pop()
                if await self._usable(conn, time.monotonic() - released_at):
                    return conn
                await self._discard(conn)
            conn = await connect(self.url, self.schema, self.connect_timeout)
            self._all.add(conn)
            return conn
        except BaseException:
            self._slots.release()
            raise

    async def _usable(self, conn: Any, idle_for: float) -> bool:
        try:
            if not conn.is_socket_connected():
                return False
            if idle_for > IDLE_PING_AFTER_SECONDS:
                # The server may have dropped it meanwhile (wait_timeout, restart, failover):
                # find out now rather than fail the caller's first statement.
                await asyncio.wait_for(conn.ping(), self.connect_timeout)
            return True
        except Exception:
            return False

    async def _release(self, conn: Any, *, broken: bool) -> None:
        try:
            if broken or self._closed:
                await self._discard(conn)
            else:
                self._idle.append((conn, time.monotonic()))
        finally:
            self._slots.release()

    async def _discard(self, conn: Any) -> None:
        self._all.discard(conn)
        with contextlib.suppress(Exception):
            await conn.close()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A connection in autocommit-off mode; the caller commits. Prefer `transaction()`."""
        conn = await self._acquire()
        broken = False
        session = Session(conn)
        try:
            yield session
        except _CONNECTION_ERRORS as exc:
            broken = True
            raise DatabaseUnavailable(f"lost the database connection: {exc}") from exc
        except asyncio.CancelledError:
            broken = True  # cancelled mid-query: the protocol state is unknown, never reuse it
            raise
        finally:
            # Leave no transaction open on a pooled connection (one round trip saved when
            # `transaction()` already committed or rolled back).
            if not broken and not session._settled:
                try:
                    await conn.rollback()
                except Exception:
                    broken = True
            await self._release(conn, broken=broken)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """Commit when the block ends normally, roll back when it raises."""
        async with self.session() as session:
            try:
                yield session
            except BaseException:
                with contextlib.suppress(Exception):
                    await session.conn.rollback()
                    session._settled = True
                raise
            await session.conn.commit()
            session._settled = True
            callbacks, session._after_commit = session._after_commit, []
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("after-commit callback failed")

    async def retrying(self, work: Callable[[Session], Awaitable[T]], attempts: int = 3) -> T:
        """`work(session)` in a transaction, run again when InnoDB rolled it back as a deadlock
        victim (1213), as MySQL asks. Replicas starting together and rewriting the same rows
        (configuration tables) meet this; `work` must be safe to run again from the start."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as tx:
                    return await work(tx)
            except mysql_errors.DatabaseError as exc:
                if exc.errno != DEADLOCK or attempt == attempts:
                    raise
                log.info("deadlock, running the transaction again", extra={"attempt": attempt})
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    # -- one-statement helpers, each in its own transaction --------------------------------

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        async with self.session() as s:
            return await s.fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        async with self.session() as s:
            return await s.fetch_all(sql, params)

    async def fetch_value(self, sql: str, params: Params = None) -> Any:
        async with self.session() as s:
            return await s.fetch_value(sql, params)

    async def execute(self, sql: str, params: Params = None) -> int:
        async with self.transaction() as s:
            return await s.execute(sql, params)

    async def ping(self) -> bool:
        try:
            await self.fetch_value("SELECT 1")
            return True
        except DatabaseUnavailable:
            return False

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._all):
            await self._discard(conn)
        self._idle.clear()
