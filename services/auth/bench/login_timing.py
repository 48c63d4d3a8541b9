"""How long a sign-in takes, and whether an unknown email answers in the same time as a wrong password.

Runs the auth service in-process (production argon2 parameters) on a throwaway schema of the
local MySQL/MariaDB, and drives it with httpx2 over ASGI, one request at a time:

    .venv/bin/python services/auth/bench/login_timing.py [rounds]

Prints median and p90 latency per case. Throttling is opened wide for the run.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid

import httpx2

from tdc_auth.main import create_app
from tdc_auth.settings import AuthSettings
from tdc_shared.migrations import drop_schema

PASSWORD = "bench password for the cave"  # noqa: S105 (a throwaway account)


async def timed(client: httpx2.AsyncClient, body: dict) -> tuple[float, int]:
    start = time.perf_counter()
    response = await client.post("/api/v1/auth/login", json=body)
    return (time.perf_counter() - start) * 1000, response.status_code


async def main(rounds: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    settings = AuthSettings(
        env="test",
        db_prefix=prefix,
        log_level="WARNING",
        auth_signing_keys_dir=tempfile.mkdtemp(),
        auth_login_account_limit="1000000/minute",
        auth_login_client_limit="1000000/minute",
    )
    app = create_app(settings, bus=False)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="https://auth.bench") as client:
                email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
                response = await client.post(
                    "/api/v1/auth/register",
                    json={"email": email, "username": f"b_{uuid.uuid4().hex[:8]}", "password": PASSWORD},
                )
                assert response.status_code == 201, response.text
                cases = {
                    "unknown email": lambda: {
                        "email": f"nobody-{uuid.uuid4().hex[:8]}@example.com",
                        "password": "x" * 12,
                    },
                    "wrong password": lambda: {"email": email, "password": "y" * 12},
                    "correct password": lambda: {"email": email, "password": PASSWORD},
                }
                samples: dict[str, list[float]] = {name: [] for name in cases}
                for _ in range(rounds):  # interleaved, so drift on a noisy machine hits every case alike
                    for name, body in cases.items():
                        elapsed, status = await timed(client, body())
                        assert status in (200, 401), status
                        samples[name].append(elapsed)
                print(
                    f"{rounds} sign-ins per case, argon2id t={settings.auth_argon2_time_cost} "
                    f"m={settings.auth_argon2_memory_kib} KiB p={settings.auth_argon2_parallelism}"
                )
                for name, values in samples.items():
                    values.sort()
                    p90 = values[int(len(values) * 0.9) - 1]
                    print(f"  {name:17s} median {statistics.median(values):6.1f} ms   p90 {p90:6.1f} ms")
    finally:
        await drop_schema(settings.mysql_url, settings.schema_for("auth"))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
