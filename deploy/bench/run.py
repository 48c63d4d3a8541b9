"""`make bench`: run every benchmark in this folder (or those named), one after another.

Each `bench_<name>.py` is a script that starts what it measures on this machine, drives it
with a load generator, prints its figures (with the baseline it measured in the same run and
the ratio), and stops everything it started. Usage:

    python deploy/bench/run.py            # all of them
    python deploy/bench/run.py gateway    # just bench_gateway.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
# Before each benchmark, wait (up to SETTLE_SECONDS) until the machine is this idle: the
# database and broker still digesting the previous benchmark's writes would otherwise be
# measured as part of the next one.
QUIET_CPU_SHARE = 0.15
SETTLE_SECONDS = 60


def busy_share(interval: float = 1.0) -> float:
    """Share of all CPU time spent busy over `interval`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total_1, idle_1 = sample()
    time.sleep(interval)
    total_2, idle_2 = sample()
    total = max(1, total_2 - total_1)
    return 1 - (idle_2 - idle_1) / total


def settle() -> None:
    if not Path("/proc/stat").exists():
        return
    started = time.monotonic()
    share = busy_share()
    while share > QUIET_CPU_SHARE and time.monotonic() - started < SETTLE_SECONDS:
        share = busy_share()
    waited = time.monotonic() - started
    state = "quiet" if share <= QUIET_CPU_SHARE else "still busy"
    print(f"machine {state} after {waited:.0f} s: {share:.0%} of {os.cpu_count()} cores busy", flush=True)


def main(names: list[str]) -> int:
    log = HERE.parents[1] / ".run" / "bench" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_LOG"] = str(log)
    print(f"figures here; the logs of the processes measured go to {log}", flush=True)
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    if not scripts:
        print("no benchmark matches", names or "(none present)")
        return 1
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem.removeprefix('bench_')} ===", flush=True)
        settle()
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.stem)
    print(f"\nlogs of the processes measured: {log}")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
