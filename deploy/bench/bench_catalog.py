"""Catalog read throughput: `GET /api/v1/events?lang=it` from the answer cache, without it, and
a bare FastAPI JSON endpoint measured in the same run on the same machine (the ratio is the figure
that matters on a shared, noisy machine).

Starts (as local processes): the catalog on a fresh schema filled with the demo data (24 upcoming
events with translations and three-artist lineups), a second catalog process on the same schema
with the cache off, and the bare app; drives each with wrk (32 connections) and prints req/s, p50,
p99 and the ratios; stops everything and drops the schema. `measure_reads` is that method for
any service with an answer cache (bench_blog.py uses it too).

    python deploy/bench/bench_catalog.py [--duration 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchlog import log_sink
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[2]
PATH = "/api/v1/events?lang=it"
TARGET_RATIO = 0.8

bare_app = FastAPI()


@bare_app.get("/bare")
async def bare() -> dict:
    return {"success": True, "data": {"status": "ok", "items": [1, 2, 3]}}


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    module: str, port: int, env: dict[str, str], app_dir: Path | None = None, log: str = "catalog"
) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--http", "tdc_shared.http_protocol:EnvelopeHttpProtocol"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    with log_sink(log) as sink:  # the services' logs to a file; the terminal gets the figures
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=sink, stderr=sink)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own http URL)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {timeout}s")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, duration: int) -> Figures:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{out}")
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"{url}: unexpected wrk output\n{out}")
    return Figures(float(rps.group(1)), _ms(*p50.groups()), _ms(*p99.groups()))


async def drop_schema(mysql_url: str, schema: str) -> None:
    from tdc_shared.migrations import drop_schema as drop

    await drop(mysql_url, schema)


def delete_bus_namespace(env: Mapping[str, str], namespace: str, services: list[str]) -> None:
    """Delete the queues and exchange a benchmark's services declared: durable queues left
    behind add up run after run, and each holds file handles of the broker's limited share."""
    from tdc_shared.settings import ServiceSettings
    from tdc_shared.testing.bus import delete_namespace

    amqp_url = env.get("TDC_AMQP_URL") or ServiceSettings.model_fields["amqp_url"].default
    asyncio.run(delete_namespace(amqp_url, namespace, services))


@dataclass(frozen=True)
class ReadBench:
    """One service's cached/uncached/bare read benchmark."""

    service: str  # runs tdc_<service>.main:app, turns TDC_<SERVICE>_CACHE_ENABLED off, drops <prefix><service>
    path: str  # the anonymous read measured
    counted: bytes  # a key every item of the answer has once: the payload line counts them
    items: str  # what those items are, for the payload line
    env: Mapping[str, str] = field(default_factory=dict)  # the service's own settings for the run


def measure_reads(bench: ReadBench) -> int:
    """Start the service twice on one fresh demo schema (cache on, cache off) and the bare app,
    drive each with wrk in interleaved rounds, print the best figures and the ratios, then stop
    everything and drop the schema."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 1
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "TDC_ENV": "dev",
        "TDC_DB_PREFIX": f"bench{tag}_",
        "TDC_BUS_NAMESPACE": f"bench{tag}",
        "TDC_DEMO_DATA": "true",
        "TDC_LOG_LEVEL": "WARNING",
        **bench.env,
    }
    mysql_url = env.setdefault("TDC_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
    app = f"tdc_{bench.service}.main:app"
    ports = {"cached": free_port(), "uncached": free_port(), "bare": free_port()}
    processes: list[subprocess.Popen] = []
    try:
        cached = start(app, ports["cached"], env, log=bench.service)
        processes.append(cached)
        wait_ready(f"http://127.0.0.1:{ports['cached']}/healthz", cached)
        # Same schema, demo already loaded; every request runs the queries and the JSON encoding.
        uncached_env = {**env, f"TDC_{bench.service.upper()}_CACHE_ENABLED": "false"}
        uncached = start(app, ports["uncached"], uncached_env, log=bench.service)
        bare_process = start("bench_catalog:bare_app", ports["bare"], env, Path(__file__).parent, bench.service)
        processes += [uncached, bare_process]
        wait_ready(f"http://127.0.0.1:{ports['uncached']}/healthz", uncached)
        wait_ready(f"http://127.0.0.1:{ports['bare']}/bare", bare_process)
        urls = {
            "bare": f"http://127.0.0.1:{ports['bare']}/bare",
            "cached": f"http://127.0.0.1:{ports['cached']}{bench.path}",
            "uncached": f"http://127.0.0.1:{ports['uncached']}{bench.path}",
        }
        with urllib.request.urlopen(urls["cached"]) as response:  # noqa: S310 (our own http URL)
            body = response.read()
        print(f"payload: {len(body)} bytes, {body.count(bench.counted)} {bench.items}")
        for url in urls.values():
            wrk(url, 2)  # warm-up
        results: dict[str, list[Figures]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                results[name].append(wrk(url, args.duration))
        best = {name: max(figures, key=lambda f: f.rps) for name, figures in results.items()}
        labels = {
            "bare": "bare FastAPI JSON endpoint",
            "cached": f"{bench.service} {bench.path} cached",
            "uncached": "  same, cache off",
        }
        width = max(len(label) for label in labels.values()) + 2
        print(f"\nwrk -t2 -c32 -d{args.duration}s, best of {args.rounds} rounds (interleaved)")
        print(f"{'endpoint':<{width}}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for name, figures in best.items():
            print(f"{labels[name]:<{width}}{figures.rps:>10.0f}{figures.p50_ms:>10.2f}{figures.p99_ms:>10.2f}")
        ratio = best["cached"].rps / best["bare"].rps
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"\nratio cached / bare:   {ratio:.2f}  (target >= {TARGET_RATIO}: {verdict})")
        print(f"ratio uncached / bare: {best['uncached'].rps / best['bare'].rps:.2f}")
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        asyncio.run(drop_schema(mysql_url, f"bench{tag}_{bench.service}"))
        delete_bus_namespace(env, f"bench{tag}", [bench.service])


def main() -> int:
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    try:
        return measure_reads(
            ReadBench(
                service="catalog",
                path=PATH,
                counted=b'"lineup"',
                items="events with translations and lineups (lang=it)",
                env={"TDC_CATALOG_DEMO_EVENTS": "24", "TDC_CATALOG_MEDIA_DIR": str(media)},
            )
        )
    finally:
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
