"""Stands in for the `mysql` client when the end-to-end tests run deploy/mysql/initdb scripts.

conftest.py puts a `mysql` wrapper first on PATH that runs this file. It executes the SQL read
from stdin, one statement per line, on TDC_E2E_ROOT_MYSQL_URL (the server the tests use, local
or in a container), so the scripts are tested as they are, without a client installed.
"""

import asyncio
import os
import sys

from tdc_shared.db import connect


async def main() -> None:
    statements = [line.strip().rstrip(";") for line in sys.stdin.read().splitlines() if line.strip()]
    conn = await connect(os.environ["TDC_E2E_ROOT_MYSQL_URL"])
    try:
        cursor = await conn.cursor()
        for statement in statements:
            await cursor.execute(statement)
        await conn.commit()
    finally:
        await conn.close()


asyncio.run(main())
