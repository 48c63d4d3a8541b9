"""Second Life board throughput through the gateway, every request signed and checked, against
the catalog's cached event list through the same gateway, in the same run.

    python deploy/bench/bench_sl.py [--duration 10] [--rounds 2]     (or: make bench ONLY=sl)

Starts the whole stack as `make run` does (deploy/local/stack.py) on fresh schemas with the demo
data, publishes 20 upcoming nights at one venue onto the bus (the integration service's read
model learns them as it learns the catalog's), registers board objects through the admin API,
and pre-signs one request per nonce: wrk (Lua) sends each once, as many objects as it takes to
stay under the per-object rate limit (30 per 20 s) the way a room full of boards would. Prints
req/s, p50, p99 for `GET /api/v1/sl/board` (JSON) and `GET /api/v1/events?lang=it` (the
catalog's answer cache) and their ratio; stops everything and drops the schemas.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx2
from bench_catalog import delete_bus_namespace  # same folder

ROOT = Path(__file__).resolve().parents[2]
LOCATION = "bench-venue"
OWNER = "0d5c9a8e-1111-4222-8333-444455556666"
PER_OBJECT = 28  # under the limit of 30 per 20 s, with room for the check request
BOARD = f"/api/v1/sl/board?location={LOCATION}&lang=it"
EVENTS = "/api/v1/events?lang=it"


def load_stack_module() -> Any:
    spec = importlib.util.spec_from_file_location("tdc_bench_stack", ROOT / "deploy" / "local" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def night(n: int) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=1 + n)).replace(minute=0, second=0, microsecond=0)
    titles = {"en": f"Night {n} of deep house", "it": f"Notte {n} di deep house", "fr": f"Nuit {n}", "es": f"Noche {n}"}
    return {
        "id": 900_000 + n,
        "uid": str(uuid.uuid4()),
        "slug": f"bench-night-{n}",
        "status": "published",
        "start_utc": iso(start),
        "end_utc": iso(start + timedelta(hours=3)),
        "timezone": "America/Los_Angeles",
        "location": {"id": 1, "slug": LOCATION, "name": "Bench Venue"},
        "artists": [
            {"id": a, "slug": f"dj-{a}", "name": f"DJ {a}", "position": a, "set_start_utc": None, "set_end_utc": None}
            for a in range(1, 4)
        ],
        "translations": {lang: {"title": t, "subtitle": "", "description": ""} for lang, t in titles.items()},
        "sequence": 1,
        "is_featured": False,
        "image_url": None,
    }


async def publish_nights(amqp_url: str, namespace: str, count: int) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{namespace}.events", aio_pika.ExchangeType.TOPIC, durable=True)
        for n in range(count):
            event_id = str(uuid.uuid4())
            body = {
                "id": event_id,
                "type": "catalog.event.published",
                "version": 1,
                "occurred_at": iso(datetime.now(UTC)),
                "source": "catalog",
                "correlation_id": None,
                "data": night(n),
            }
            message = aio_pika.Message(
                json.dumps(body).encode(),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=event_id,
                type="catalog.event.published",
                content_type="application/json",
            )
            await exchange.publish(message, routing_key="catalog.event.published")


def sign(secret: str, method: str, path: str, ts: str, nonce: str) -> str:
    message = f"{method}\n{path}\n{ts}\n{nonce}\n".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def simulator_headers(object_key: str) -> dict[str, str]:
    return {
        "X-SecondLife-Shard": "Production",
        "X-SecondLife-Owner-Key": OWNER,
        "X-SecondLife-Object-Key": object_key,
        "X-SecondLife-Region": "Bench (256000, 256000)",
    }


def lua_script(requests: list[dict[str, str]], path: Path) -> None:
    """A wrk script that sends each pre-signed request once, in order (one wrk thread)."""

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    rows = ",\n".join("{" + ", ".join(f"[{quote(k)}]={quote(v)}" for k, v in h.items()) + "}" for h in requests)
    path.write_text(
        f"local headers = {{\n{rows}\n}}\nlocal i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  if i > #headers then i = #headers end\n"  # past the end: replays, which wrk reports as errors
        f"  return wrk.format('GET', {quote(BOARD)}, headers[i])\n"
        "end\n"
    )


def wrk(url: str, duration: int, script: Path | None = None) -> tuple[float, float, float, int]:
    command = ["wrk", "-t1", "-c32", f"-d{duration}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses of {total}\n{out}")

    def ms(match: re.Match[str] | None) -> float:
        assert match is not None
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    return rps, ms(re.search(r"50%\s+([\d.]+)(us|ms|s)", out)), ms(re.search(r"99%\s+([\d.]+)(us|ms|s)", out)), total


async def register_objects(client: httpx2.AsyncClient, admin: dict[str, str], count: int) -> list[dict[str, str]]:
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> dict[str, str]:
        async with gate:
            answer = await client.post(
                "/api/v1/admin/integrations/sl/objects",
                headers=admin,
                json={"name": f"bench board {n}", "purpose": "board", "location": LOCATION, "owner_key": OWNER},
            )
            answer.raise_for_status()
            data = answer.json()["data"]
            return {"id": data["id"], "secret": data["secret"], "key": str(uuid.uuid4())}

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def signed_requests(objects: list[dict[str, str]]) -> list[dict[str, str]]:
    ts = str(int(time.time()))
    out = []
    for _ in range(PER_OBJECT):
        for obj in objects:
            nonce = uuid.uuid4().hex
            out.append(
                {
                    **simulator_headers(obj["key"]),
                    "X-SL-Object": obj["id"],
                    "X-SL-Timestamp": ts,
                    "X-SL-Nonce": nonce,
                    "X-SL-Signature": sign(obj["secret"], "GET", BOARD, ts, nonce),
                }
            )
    return out


async def prepare(url: str, env: dict[str, str], objects_needed: int) -> list[dict[str, str]]:
    async with httpx2.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": env["TDC_BOOTSTRAP_ADMIN_EMAIL"], "password": env["TDC_BOOTSTRAP_ADMIN_PASSWORD"]},
        )
        login.raise_for_status()
        admin = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        await publish_nights(env["TDC_AMQP_URL"], env["TDC_BUS_NAMESPACE"], 20)
        objects = await register_objects(client, admin, objects_needed)
        # The check request: the read model has the nights, and each object's key gets bound.
        probe = objects[0]
        for _ in range(100):
            ts, nonce = str(int(time.time())), uuid.uuid4().hex
            headers = {
                **simulator_headers(probe["key"]),
                "X-SL-Object": probe["id"],
                "X-SL-Timestamp": ts,
                "X-SL-Nonce": nonce,
                "X-SL-Signature": sign(probe["secret"], "GET", BOARD, ts, nonce),
            }
            answer = await client.get(BOARD, headers=headers)
            answer.raise_for_status()
            if len(answer.json()["data"]["items"]) >= 5:
                print(f"board: {len(answer.content)} bytes, {len(answer.json()['data']['items'])} items")
                break
            await asyncio.sleep(0.3)
        else:
            raise RuntimeError("the integration service never learned the nights")
        return objects


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-rps", type=int, default=1500, help="the most board requests/s to pre-sign for")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 1
    stack_module = load_stack_module()
    tag = uuid.uuid4().hex[:8]
    env = stack_module.local_env()
    env.update(
        {
            "TDC_ENV": "dev",
            "TDC_DB_PREFIX": f"bench{tag}_",
            "TDC_BUS_NAMESPACE": f"bench{tag}",
            "TDC_DEMO_DATA": "true",
            "TDC_LOG_LEVEL": "WARNING",
            "TDC_BOOTSTRAP_ADMIN_EMAIL": f"bench-{tag}@example.com",
            "TDC_BOOTSTRAP_ADMIN_PASSWORD": f"bench-{uuid.uuid4().hex}",
            "TDC_CATALOG_MEDIA_DIR": tempfile.mkdtemp(prefix="bench-media-"),
        }
    )
    services = stack_module.discover_services()
    ports = {name: stack_module.free_port() for name in ["gateway", *services]}
    stack = stack_module.Stack(env=env, ports=ports, echo=False, log_file=Path(tempfile.mkdtemp()) / "stack.log")
    per_round = max(1, args.max_rps * args.duration // PER_OBJECT + 1)
    try:
        stack.start()
        stack.wait_ready(timeout=120)
        objects = asyncio.run(prepare(stack.url, env, per_round * args.rounds))
        work = Path(tempfile.mkdtemp(prefix="bench-sl-"))
        wrk(f"{stack.url}{EVENTS}", 2)  # warm-up
        results: dict[str, list[tuple[float, float, float, int]]] = {"board": [], "events": []}
        for n in range(args.rounds):
            script = work / f"round{n}.lua"
            lua_script(signed_requests(objects[n * per_round : (n + 1) * per_round]), script)
            results["events"].append(wrk(f"{stack.url}{EVENTS}", args.duration))
            results["board"].append(wrk(f"{stack.url}{BOARD}", args.duration, script))
        best = {name: max(figures) for name, figures in results.items()}
        print(f"\nwrk -t1 -c32 -d{args.duration}s through the gateway, best of {args.rounds} rounds (interleaved)")
        print(f"{'endpoint':<52}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        labels = {"board": f"{BOARD} (signed, checked)", "events": f"{EVENTS} (catalog cache)"}
        for name, (rps, p50, p99, _) in best.items():
            print(f"{labels[name]:<52}{rps:>10.0f}{p50:>10.2f}{p99:>10.2f}")
        print(f"\nratio board / catalog cached list: {best['board'][0] / best['events'][0]:.2f}")
        return 0
    finally:
        stack.stop()
        asyncio.run(drop_schemas(env["TDC_MYSQL_URL"], [f"bench{tag}_{name}" for name in services]))
        delete_bus_namespace(env, f"bench{tag}", services)


async def drop_schemas(mysql_url: str, schemas: list[str]) -> None:
    from tdc_shared.migrations import drop_schema

    for schema in schemas:
        await drop_schema(mysql_url, schema)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
