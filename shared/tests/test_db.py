from __future__ import annotations

import asyncio
import uuid

import pytest
from mysql.connector import errors as mysql_errors

from tdc_shared.db import Database, DatabaseUnavailable, MySQLAddress, connect
from tdc_shared.migrations import quote_identifier


@pytest.fixture(scope="module")
async def db(mysql_url: str, db_prefix: str):
    schema = f"{db_prefix}dbtest"
    conn = await connect(mysql_url)
    cursor = await conn.cursor()
    await cursor.execute(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(schema)}")
    await cursor.execute(
        f"CREATE TABLE {quote_identifier(schema)}.notes ("
        " id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL UNIQUE) CHARSET utf8mb4"
    )
    await cursor.close()
    await conn.close()
    database = Database(mysql_url, schema, pool_size=4, wait_seconds=10)
    yield database
    await database.close()


def test_url_parsing() -> None:
    address = MySQLAddress.parse("mysql://svc:p%40ss@db.internal:3307?ssl=required")
    assert (address.user, address.password, address.host, address.port) == ("svc", "p@ss", "db.internal", 3307)
    assert address.ssl_disabled is False
    assert MySQLAddress.parse("mysql://root:@127.0.0.1").ssl_disabled is True
    with pytest.raises(ValueError):
        MySQLAddress.parse("postgres://x@y")


async def test_burst_of_three_times_the_pool_size_waits_instead_of_failing(db: Database) -> None:
    async def slow_query(i: int) -> int:
        return await db.fetch_value("SELECT %s + SLEEP(0.05)", (i,))

    results = await asyncio.gather(*(slow_query(i) for i in range(3 * db.pool_size)))
    assert sorted(results) == list(range(3 * db.pool_size))


async def test_a_wait_longer_than_allowed_is_database_unavailable(mysql_url: str, db: Database) -> None:
    tiny = Database(mysql_url, db.schema, pool_size=1, wait_seconds=0.2)
    try:
        async with tiny.session():
            with pytest.raises(DatabaseUnavailable, match="no database connection free"):
                await tiny.fetch_value("SELECT 1")
    finally:
        await tiny.close()


async def test_unreachable_server_is_database_unavailable() -> None:
    nowhere = Database("mysql://root:@127.0.0.1:1", "nothing", pool_size=1, connect_timeout=1)
    with pytest.raises(DatabaseUnavailable, match="cannot reach MySQL"):
        await nowhere.fetch_value("SELECT 1")
    assert await nowhere.ping() is False


async def test_transaction_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    kept, dropped = f"kept-{uuid.uuid4().hex[:8]}", f"dropped-{uuid.uuid4().hex[:8]}"
    async with db.transaction() as tx:
        new_id = await tx.execute("INSERT INTO notes (body) VALUES (%s)", (kept,))
    assert new_id > 0
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES (%s)", (dropped,))
            raise RuntimeError("business rule failed")
    rows = await db.fetch_all("SELECT body FROM notes WHERE body IN (%s, %s)", (kept, dropped))
    assert [r["body"] for r in rows] == [kept]


async def test_a_deadlock_victim_is_run_again_and_both_transactions_land(db: Database) -> None:
    first, second = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    for body in (first, second):
        await db.execute("INSERT INTO notes (body) VALUES (%s)", (body,))
    locked = [asyncio.Event(), asyncio.Event()]
    runs = [0, 0]

    def crosswise(me: int, mine: str, theirs: str):
        async def work(tx) -> str:
            runs[me] += 1
            await tx.execute("UPDATE notes SET body = body WHERE body = %s", (mine,))
            locked[me].set()
            await asyncio.wait_for(locked[1 - me].wait(), 10)  # both hold one row: now cross
            await tx.execute("UPDATE notes SET body = body WHERE body = %s", (theirs,))
            return mine

        return work

    results = await asyncio.gather(db.retrying(crosswise(0, first, second)), db.retrying(crosswise(1, second, first)))
    assert sorted(results) == sorted([first, second])
    assert sorted(runs) == [1, 2]  # InnoDB rolled one back; it ran again and committed


async def test_errors_other_than_a_deadlock_are_not_retried(db: Database) -> None:
    body = f"dup-{uuid.uuid4().hex[:8]}"
    await db.execute("INSERT INTO notes (body) VALUES (%s)", (body,))
    runs = []

    async def duplicate(tx) -> None:
        runs.append(1)
        await tx.execute("INSERT INTO notes (body) VALUES (%s)", (body,))

    with pytest.raises(mysql_errors.IntegrityError):
        await db.retrying(duplicate)
    assert runs == [1]


async def test_after_commit_callbacks_run_only_after_a_commit(db: Database) -> None:
    calls: list[str] = []
    async with db.transaction() as tx:
        tx.after_commit(lambda: calls.append("committed"))
        assert calls == []
    assert calls == ["committed"]
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            tx.after_commit(lambda: calls.append("rolled back"))
            raise RuntimeError
    assert calls == ["committed"]


async def test_a_failed_statement_leaves_the_connection_usable(db: Database) -> None:
    body = f"dup-{uuid.uuid4().hex[:8]}"
    await db.execute("INSERT INTO notes (body) VALUES (%s)", (body,))
    with pytest.raises(mysql_errors.IntegrityError):
        await db.execute("INSERT INTO notes (body) VALUES (%s)", (body,))
    assert await db.fetch_value("SELECT COUNT(*) FROM notes WHERE body = %s", (body,)) == 1


async def test_parameters_are_never_interpolated(db: Database) -> None:
    hostile = "x'); DROP TABLE notes; --"
    await db.execute("INSERT INTO notes (body) VALUES (%s)", (hostile,))
    assert await db.fetch_value("SELECT body FROM notes WHERE body = %s", (hostile,)) == hostile


async def test_unicode_round_trips_in_utf8mb4(db: Database) -> None:
    text = f"Caffè 🎶 {uuid.uuid4().hex[:6]}"
    await db.execute("INSERT INTO notes (body) VALUES (%s)", (text,))
    assert await db.fetch_value("SELECT body FROM notes WHERE body = %s", (text,)) == text


async def test_sessions_run_in_utc(db: Database) -> None:
    assert await db.fetch_value("SELECT @@session.time_zone") == "+00:00"


async def test_a_connection_the_server_dropped_while_idle_is_replaced(
    mysql_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tdc_shared.db as db_module

    monkeypatch.setattr(db_module, "IDLE_PING_AFTER_SECONDS", 0.0)
    single = Database(mysql_url, db.schema, pool_size=1)
    try:
        first_id = await single.fetch_value("SELECT CONNECTION_ID()")
        await db.execute("KILL %s", (first_id,))  # as a server restart or wait_timeout would
        second_id = await single.fetch_value("SELECT CONNECTION_ID()")
        assert second_id != first_id
    finally:
        await single.close()
