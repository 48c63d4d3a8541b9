"""pytest plugin loaded for the whole repository (see the root pyproject's addopts)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from .infrastructure import Infrastructure, InfrastructureMissing, provide
from .keys import SigningKey


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    try:
        with provide() as infra:
            yield infra
    except InfrastructureMissing as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def mysql_url(infrastructure: Infrastructure) -> str:
    return infrastructure.mysql_url


@pytest.fixture(scope="session")
def amqp_url(infrastructure: Infrastructure) -> str:
    return infrastructure.amqp_url


@pytest.fixture(scope="session")
def db_prefix(mysql_url: str) -> Iterator[str]:
    """A schema prefix unique to this test run; every schema under it is dropped at the end."""
    prefix = f"t{os.getpid()}{uuid.uuid4().hex[:6]}_"
    yield prefix
    asyncio.run(_drop_schemas(mysql_url, prefix))


async def _drop_schemas(mysql_url: str, prefix: str) -> None:
    from ..db import connect
    from ..migrations import quote_identifier

    conn = await connect(mysql_url)
    try:
        cursor = await conn.cursor()
        await cursor.execute("SHOW DATABASES")
        for (name,) in await cursor.fetchall():
            if name.startswith(prefix):
                await cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
        await cursor.close()
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate("test-key-1")


def unique_name(base: str = "") -> str:
    return f"{base}{uuid.uuid4().hex[:8]}"
