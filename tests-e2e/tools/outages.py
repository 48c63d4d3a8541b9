"""Faults of the machine's own servers, each one undone in `finally`, for tests-e2e/test_faults.py.

- The broker: `rabbitmqctl stop_app` / `start_app` (the Erlang node stays up, the RabbitMQ
  application and every connection to it go), then `rabbitmqctl await_startup`.
- MariaDB: `mysqladmin shutdown` (a clean stop, as the init script's own stop does), started
  again as it runs here, `/usr/sbin/mariadbd` detached from us (its parent becomes init, as
  now), then waited for until it answers a query. The init script is not used for the start:
  its liveness check runs mysqladmin with /etc/mysql/debian.cnf, which this machine does not
  have, so it would wait out its 30 s and report a failure while the server is up.
- A table a service's own account may no longer write: its schema-wide grant is replaced by
  table grants (every table but one, and that one read and delete only). MariaDB applies a
  schema-level change to a connection at its next USE only, so the account's open connections
  are killed: the service's pool opens new ones (a DatabaseUnavailable meanwhile, which the
  consumer waits out without using up an attempt).

Every wait here is bounded; the blocking commands run in threads, and a restore runs to its
end even if the test's own timeout cancels the coroutine waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tdc_shared.db import DatabaseUnavailable, connect
from tdc_shared.migrations import quote_identifier

T = TypeVar("T")

RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
MYSQLADMIN = shutil.which("mariadb-admin") or shutil.which("mysqladmin") or "/usr/bin/mysqladmin"
MARIADBD = "/usr/sbin/mariadbd"


def _run(command: list[str], timeout: float) -> str:
    done = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return done.stdout


async def _in_thread(work: Callable[[], T]) -> T:
    """Run blocking `work` in a thread; if the caller is cancelled meanwhile, `work` still ends."""
    return await asyncio.shield(asyncio.to_thread(work))


# -- the broker --------------------------------------------------------------------------------


def rabbit_running() -> bool | None:
    """Whether the RabbitMQ application runs on the node (None: the node did not say)."""
    try:
        return _run([RABBITMQCTL, "-q", "eval", "rabbit:is_running()."], timeout=30).strip() == "true"
    except (RuntimeError, subprocess.TimeoutExpired):
        return None


def _stop_pending() -> bool:
    """A `rabbitmqctl stop_app` still running on this machine (ours, or anyone's)."""
    found = subprocess.run(["pgrep", "-f", 'rabbitmqctl +"?stop_app'], capture_output=True, check=False)
    return found.returncode == 0


def rabbit_stop_app(within: float = 240.0) -> None:
    """Stop the application; returns once the node says it no longer runs.

    A stop made while clients are still setting up connections waits for them (the broker's
    70 s shutdown timeout per stuck one). The command is not killed for being slow: killing
    /usr/sbin/rabbitmqctl leaves the `su` and Erlang CLI it started running, and the node
    stopping anyway, later - after a start made meanwhile."""
    _run([RABBITMQCTL, "stop_app"], timeout=within)
    if rabbit_running() is not False:
        raise RuntimeError("rabbitmqctl stop_app returned, and the application still runs")


def rabbit_start_app(within: float = 300.0, handle_floor: int | None = None) -> None:
    """Start the application and wait until it runs, with no stop pending that could undo the
    start; tried again until `within` has passed: other people's tests need the broker.

    `handle_floor`: keep the node's file handle cache limit at least this high while it starts
    (a start sets it afresh from the ulimit; see `broker_stopped`)."""
    starting = threading.Event()
    keeper = None
    if handle_floor is not None:
        keeper = threading.Thread(target=_keep_handle_floor, args=(handle_floor, starting), daemon=True)
        keeper.start()
    deadline = time.monotonic() + within
    try:
        while True:
            try:
                if not _stop_pending():
                    if rabbit_running() is False:
                        _run([RABBITMQCTL, "start_app"], timeout=120)
                    _run([RABBITMQCTL, "await_startup", "--timeout", "60"], timeout=90)
                    if rabbit_running() is True and not _stop_pending():
                        return
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the RabbitMQ application is not running {within:g}s after its start")
            time.sleep(2)
    finally:
        starting.set()
        if keeper is not None:
            keeper.join(60)
            _keep_handle_floor(handle_floor or 0, None)


def _keep_handle_floor(floor: int, until: threading.Event | None) -> None:
    """Raise the file handle cache limit to `floor` whenever the node reports less (once when
    `until` is None, else until it is set)."""
    while True:
        current = handle_limit()
        if current is not None and current < floor:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                set_handle_limit(floor)
        if until is None or until.wait(0.5):
            return


def handle_limit() -> int | None:
    """The node's file handle cache limit (None: the node did not say)."""
    try:
        out = _run([RABBITMQCTL, "-q", "eval", "proplists:get_value(total_limit, file_handle_cache:info())."], 30)
        return int(out.strip())
    except (RuntimeError, subprocess.TimeoutExpired, ValueError):
        return None


def set_handle_limit(limit: int) -> None:
    _run([RABBITMQCTL, "-q", "eval", f"file_handle_cache:set_limit({int(limit)})."], timeout=30)


@contextlib.asynccontextmanager
async def broker_stopped() -> AsyncIterator[None]:
    """The RabbitMQ application stopped for the block, started again (and awaited) after it,
    whatever happened, a stop that failed or timed out included.

    A start sets the node's file handle cache limit afresh from its ulimit. A broker holding
    hundreds of quorum queues uses that up at once (its queues cannot all recover, no new
    connection gets through), so an operator may have raised it at run time: such a limit is
    kept, so the broker is left as it was found."""
    limit = await _in_thread(handle_limit)
    try:
        await _in_thread(rabbit_stop_app)
        yield
    finally:
        # While it starts, too: the queues' recovery itself can wait for handles.
        await _in_thread(lambda: rabbit_start_app(handle_floor=limit))


# -- MariaDB -----------------------------------------------------------------------------------


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _address(root_url: str) -> tuple[str, int]:
    parts = urlsplit(root_url)
    return parts.hostname or "127.0.0.1", parts.port or 3306


def mariadb_stop(root_url: str, timeout: float = 60.0) -> None:
    host, port = _address(root_url)
    user = urlsplit(root_url).username or "root"
    _run([MYSQLADMIN, "--protocol=tcp", f"--host={host}", f"--port={port}", f"--user={user}", "shutdown"], timeout)
    deadline = time.monotonic() + timeout
    while _port_open(host, port) or _mariadbd_running():
        if time.monotonic() > deadline:
            raise RuntimeError("MariaDB still runs after its shutdown")
        time.sleep(0.1)


async def _answers(root_url: str) -> bool:
    try:
        conn = await connect(root_url, connect_timeout=2)
    except DatabaseUnavailable:
        return False
    try:
        cursor = await conn.cursor()
        await cursor.execute("SELECT 1")
        await cursor.fetchall()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


def _launch_mariadbd() -> None:
    # Through a shell that exits at once: the server is init's child, as it was, not ours.
    subprocess.run(["sh", "-c", f"setsid {MARIADBD} >/dev/null 2>&1 < /dev/null &"], check=True, timeout=10)


def _mariadbd_running() -> bool:
    return subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, check=False).returncode == 0


def mariadb_start(root_url: str, timeout: float = 90.0) -> None:
    host, port = _address(root_url)
    if not _port_open(host, port):
        _launch_mariadbd()
    deadline = time.monotonic() + timeout
    while not asyncio.run(_answers(root_url)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"MariaDB did not answer within {timeout:g}s of its start")
        if not _port_open(host, port) and not _mariadbd_running():
            _launch_mariadbd()  # the first one gave up (e.g. the old one had not quite let go)
        time.sleep(0.2)


@contextlib.asynccontextmanager
async def mariadb_stopped(root_url: str) -> AsyncIterator[None]:
    """MariaDB down for the block, up again (answering queries) after it."""
    try:
        await _in_thread(lambda: mariadb_stop(root_url))
        yield
    finally:
        await _in_thread(lambda: mariadb_start(root_url))


# -- one table an account may no longer write ---------------------------------------------------


async def _execute(root_url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
    conn = await connect(root_url)
    results: list[list[tuple[Any, ...]]] = []
    try:
        cursor = await conn.cursor()
        for sql, params in statements:
            await cursor.execute(sql, params)
            results.append(list(await cursor.fetchall()) if sql.startswith(("SELECT", "SHOW")) else [])
        await conn.commit()
        await cursor.close()
    finally:
        await conn.close()
    return results


async def grants_of(root_url: str, account: str) -> list[str]:
    """`SHOW GRANTS` of account@'%', one line each."""
    [rows] = await _execute(root_url, [(f"SHOW GRANTS FOR '{account}'@'%'", ())])
    return [str(row[0]) for row in rows]


async def kill_connections(root_url: str, account: str) -> int:
    """Kill every connection of `account` (so it reads its grants afresh); returns how many."""
    [rows] = await _execute(root_url, [("SELECT id FROM information_schema.processlist WHERE user = %s", (account,))])
    killed = 0
    for (connection_id,) in rows:
        with contextlib.suppress(Exception):
            await _execute(root_url, [(f"KILL CONNECTION {int(connection_id)}", ())])
            killed += 1
    return killed


@contextlib.asynccontextmanager
async def table_read_only(root_url: str, account: str, schema: str, table: str) -> AsyncIterator[None]:
    """`account` keeps every privilege on `schema` but INSERT and UPDATE on `table`."""
    user = f"'{account}'@'%'"
    db = quote_identifier(schema)
    [rows] = await _execute(
        root_url,
        [("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))],
    )
    others = sorted(str(name) for (name,) in rows if name != table)
    grants = [(f"GRANT ALL PRIVILEGES ON {db}.{quote_identifier(name)} TO {user}", ()) for name in others]
    try:
        await _execute(
            root_url,
            [
                (f"REVOKE ALL PRIVILEGES ON {db}.* FROM {user}", ()),
                *grants,
                (f"GRANT SELECT, DELETE ON {db}.{quote_identifier(table)} TO {user}", ()),
                ("FLUSH PRIVILEGES", ()),
            ],
        )
        await kill_connections(root_url, account)
        yield
    finally:
        await asyncio.shield(_restore_schema_grant(root_url, user, db, [*others, table]))
        await asyncio.shield(kill_connections(root_url, account))


async def _restore_schema_grant(root_url: str, user: str, db: str, tables: list[str]) -> None:
    await _execute(root_url, [(f"GRANT ALL PRIVILEGES ON {db}.* TO {user}", ())])
    for name in tables:
        # One at a time: a table whose grant never got made has none to revoke.
        with contextlib.suppress(Exception):
            await _execute(root_url, [(f"REVOKE ALL PRIVILEGES ON {db}.{quote_identifier(name)} FROM {user}", ())])
    await _execute(root_url, [("FLUSH PRIVILEGES", ())])
