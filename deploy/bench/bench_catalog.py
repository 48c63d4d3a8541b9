"""Catalog read throughput: `GET /api/v1/events?lang=it` from the answer cache, without it, and
a bare FastAPI JSON endpoint measured in the same run on the same machine (the ratio is the figure
that matters on a shared, noisy machine).

Starts (as local processes): the catalog on a fresh schema filled with the demo data (24 upcoming
events with translations and three-artist lineups), a second catalog process on the same schema
with the cache off, and the bare app; drives each with wrk (32 connections) and prints req/s, p50,
p99 and the ratios; stops everything and drops the schema.

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
from dataclasses import dataclass
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


def start(module: str, port: int, env: dict[str, str], app_dir: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--http", "tdc_shared.http_protocol:EnvelopeHttpProtocol"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    with log_sink("catalog") as sink:  # the services' logs to a file; the terminal gets the figures
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
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{out}")
    return Figures(rps, _ms(*p50.groups()), _ms(*p99.groups()))


async def drop_schema(mysql_url: str, schema: str) -> None:
    from tdc_shared.migrations import drop_schema as drop

    await drop(mysql_url, schema)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 1
    tag = uuid.uuid4().hex[:8]
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    env = {
        **os.environ,
        "TDC_ENV": "dev",
        "TDC_DB_PREFIX": f"bench{tag}_",
        "TDC_BUS_NAMESPACE": f"bench{tag}",
        "TDC_DEMO_DATA": "true",
        "TDC_CATALOG_DEMO_EVENTS": "24",
        "TDC_CATALOG_MEDIA_DIR": str(media),
        "TDC_LOG_LEVEL": "WARNING",
    }
    mysql_url = env.setdefault("TDC_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
    ports = {"cached": free_port(), "uncached": free_port(), "bare": free_port()}
    processes: list[subprocess.Popen] = []
    try:
        cached = start("tdc_catalog.main:app", ports["cached"], env)
        processes.append(cached)
        wait_ready(f"http://127.0.0.1:{ports['cached']}/healthz", cached)
        # Same schema, demo already loaded; every request runs the queries and the JSON encoding.
        uncached = start("tdc_catalog.main:app", ports["uncached"], {**env, "TDC_CATALOG_CACHE_ENABLED": "false"})
        bare_process = start("bench_catalog:bare_app", ports["bare"], env, app_dir=Path(__file__).parent)
        processes += [uncached, bare_process]
        wait_ready(f"http://127.0.0.1:{ports['uncached']}/healthz", uncached)
        wait_ready(f"http://127.0.0.1:{ports['bare']}/bare", bare_process)
        urls = {
            "bare": f"http://127.0.0.1:{ports['bare']}/bare",
            "cached": f"http://127.0.0.1:{ports['cached']}{PATH}",
            "uncached": f"http://127.0.0.1:{ports['uncached']}{PATH}",
        }
        with urllib.request.urlopen(urls["cached"]) as response:  # noqa: S310 (our own http URL)
            body = response.read()
        count = body.count(b'"lineup"')
        print(f"payload: {len(body)} bytes, {count} events with translations and lineups (lang=it)")
        for url in urls.values():
            wrk(url, 2)  # warm-up
        results: dict[str, list[Figures]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                results[name].append(wrk(url, args.duration))
        best = {name: max(figures, key=lambda f: f.rps) for name, figures in results.items()}
        print(f"\nwrk -t2 -c32 -d{args.duration}s, best of {args.rounds} rounds (interleaved)")
        print(f"{'endpoint':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        labels = {
            "bare": "bare FastAPI JSON endpoint",
            "cached": f"catalog {PATH} cached",
            "uncached": "  same, cache off",
        }
        for name, figures in best.items():
            print(f"{labels[name]:<34}{figures.rps:>10.0f}{figures.p50_ms:>10.2f}{figures.p99_ms:>10.2f}")
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
        asyncio.run(drop_schema(mysql_url, f"bench{tag}_catalog"))
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
