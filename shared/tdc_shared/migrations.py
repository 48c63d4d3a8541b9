"""Numbered `.sql` migrations, applied at start-up exactly once across replicas.

Each service keeps `migrations/NNNN_description.sql`. At start-up `migrate()` creates the
service's schema if needed, takes a MySQL named lock for that schema (so replicas starting
together queue up instead of racing), applies the files not yet recorded in
`schema_migrations`, and records each with the SHA-256 of its text. An already-applied
file whose text changed is refused: write a new migration instead of editing history.

Statements in a file are separated by a `;` at the end of a line. MySQL commits DDL
implicitly, so keep one concern per file; a file is recorded only after all of its
statements succeeded.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .db import connect

log = logging.getLogger(__name__)

FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
LOCK_TIMEOUT_SECONDS = 120


class MigrationError(RuntimeError):
    """A migration set that cannot be applied safely."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        text = "\n".join(line for line in self.sql.splitlines() if not line.strip().startswith("--"))
        return [stmt.strip() for stmt in re.split(r";\s*$", text, flags=re.MULTILINE) if stmt.strip()]


def load_migrations(directory: Path) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(Path(directory).glob("*.sql")):
        match = FILE_NAME.fullmatch(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migration files share a number")
    return migrations


def quote_identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
        raise MigrationError(f"invalid identifier {name!r}")
    return f"`{name}`"


def lock_name(schema: str) -> str:
    """The GET_LOCK name guarding `schema`'s migrations: MySQL refuses names over 64 characters."""
    name = f"tdc_migrate:{schema}"
    if len(name) <= 64:
        return name
    return "tdc_migrate:" + hashlib.sha256(schema.encode()).hexdigest()[:52]


async def migrate(mysql_url: str, schema: str, directories: list[Path]) -> list[str]:
    """Create `schema` if missing and apply pending migrations; returns the files applied."""
    migrations = sorted((m for d in directories for m in load_migrations(d)), key=lambda m: (m.version, m.name))
    conn = await connect(mysql_url)
    applied_now: list[str] = []
    try:
        cursor = await conn.cursor()
        lock = lock_name(schema)
        await cursor.execute("SELECT GET_LOCK(%s, %s)", (lock, LOCK_TIMEOUT_SECONDS))
        (got,) = await cursor.fetchone()
        if got != 1:
            raise MigrationError(f"could not take the migration lock for {schema} within {LOCK_TIMEOUT_SECONDS}s")
        try:
            quoted = quote_identifier(schema)
            await cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            await cursor.execute(f"USE {quoted}")
            await cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name VARCHAR(191) NOT NULL PRIMARY KEY,"
                " checksum CHAR(64) NOT NULL,"
                " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
            )
            await cursor.execute("SELECT name, checksum FROM schema_migrations")
            done = {name: checksum for name, checksum in await cursor.fetchall()}
            for migration in migrations:
                recorded = done.get(migration.name)
                if recorded is not None:
                    if recorded != migration.checksum:
                        raise MigrationError(
                            f"{schema}: migration {migration.name} was changed after it was applied "
                            f"(recorded checksum {recorded[:12]}…, file now {migration.checksum[:12]}…); "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                for statement in migration.statements():
                    await cursor.execute(statement)
                await cursor.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                    (migration.name, migration.checksum),
                )
                await conn.commit()
                applied_now.append(migration.name)
                log.info("applied migration", extra={"schema": schema, "migration": migration.name})
        finally:
            await cursor.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            await cursor.fetchall()
            await cursor.close()
    finally:
        await conn.close()
    return applied_now


async def drop_schema(mysql_url: str, schema: str) -> None:
    conn = await connect(mysql_url)
    try:
        cursor = await conn.cursor()
        await cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(schema)}")
        await cursor.close()
    finally:
        await conn.close()
