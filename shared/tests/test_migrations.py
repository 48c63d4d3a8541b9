from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from tdc_shared.db import Database
from tdc_shared.migrations import MigrationError, load_migrations, lock_name, migrate


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(sql))


def test_statements_split_at_line_end_semicolons(tmp_path: Path) -> None:
    write(
        tmp_path,
        "0001_two.sql",
        """\
        -- comment; with a semicolon
        CREATE TABLE a (id INT, note VARCHAR(10) DEFAULT 'x;y');
        CREATE TABLE b (id INT);
        """,
    )
    (migration,) = load_migrations(tmp_path)
    assert migration.statements() == [
        "CREATE TABLE a (id INT, note VARCHAR(10) DEFAULT 'x;y')",
        "CREATE TABLE b (id INT)",
    ]


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "1_users.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        load_migrations(tmp_path)


async def test_applies_once_and_refuses_an_edited_applied_file(mysql_url: str, db_prefix: str, tmp_path: Path) -> None:
    schema = f"{db_prefix}migr"
    write(tmp_path, "0001_items.sql", "CREATE TABLE items (id INT PRIMARY KEY);")
    assert await migrate(mysql_url, schema, [tmp_path]) == ["0001_items.sql"]
    assert await migrate(mysql_url, schema, [tmp_path]) == []
    write(tmp_path, "0002_more.sql", "ALTER TABLE items ADD COLUMN name VARCHAR(20);")
    assert await migrate(mysql_url, schema, [tmp_path]) == ["0002_more.sql"]
    write(tmp_path, "0001_items.sql", "CREATE TABLE items (id BIGINT PRIMARY KEY);")
    with pytest.raises(MigrationError, match=r"0001_items\.sql was changed after it was applied"):
        await migrate(mysql_url, schema, [tmp_path])


async def test_a_failing_file_is_not_recorded(mysql_url: str, db_prefix: str, tmp_path: Path) -> None:
    schema = f"{db_prefix}migrfail"
    write(tmp_path, "0001_broken.sql", "CREATE TABLE t (id INT);\nTHIS IS NOT SQL;")
    with pytest.raises(Exception, match="SQL syntax"):
        await migrate(mysql_url, schema, [tmp_path])
    db = Database(mysql_url, schema, pool_size=1)
    try:
        assert await db.fetch_value("SELECT COUNT(*) FROM schema_migrations") == 0
    finally:
        await db.close()


MIGRATE_SCRIPT = """
import asyncio, sys
from pathlib import Path
from tdc_shared.migrations import migrate
print(",".join(asyncio.run(migrate(sys.argv[1], sys.argv[2], [Path(sys.argv[3])]))))
"""


async def test_four_processes_migrating_at_once_apply_each_file_exactly_once(
    mysql_url: str, db_prefix: str, tmp_path: Path
) -> None:
    schema = f"{db_prefix}migrrace"
    # Non-idempotent statements: applying any file twice would fail or double the rows.
    write(tmp_path, "0001_counter.sql", "CREATE TABLE counter (n INT NOT NULL);")
    write(tmp_path, "0002_first.sql", "INSERT INTO counter (n) VALUES (1);")
    write(tmp_path, "0003_second.sql", "INSERT INTO counter (n) VALUES (2);\nALTER TABLE counter ADD COLUMN c INT;")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_SCRIPT,
            mysql_url,
            schema,
            str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = [await p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [err.decode()[-500:] for _, err in outputs]
    applied = [name for out, _ in outputs for name in out.decode().strip().split(",") if name]
    assert sorted(applied) == ["0001_counter.sql", "0002_first.sql", "0003_second.sql"]
    db = Database(mysql_url, schema, pool_size=1)
    try:
        assert await db.fetch_all("SELECT n FROM counter ORDER BY n") == [{"n": 1}, {"n": 2}]
        assert await db.fetch_value("SELECT COUNT(*) FROM schema_migrations") == 3
    finally:
        await db.close()


def test_lock_names_fit_mysql_and_stay_distinct():
    # MySQL 8 refuses GET_LOCK names over 64 characters; schema names may be 64 long themselves.
    long_a, long_b = "a" * 63 + "x", "a" * 63 + "y"
    assert lock_name("tdc_catalog") == "tdc_migrate:tdc_catalog"
    assert len(lock_name(long_a)) <= 64 and len(lock_name(long_b)) <= 64
    assert lock_name(long_a) != lock_name(long_b)
