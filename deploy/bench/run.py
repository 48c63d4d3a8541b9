"""`make bench`: run every benchmark in this folder (or those named), one after another.

Each `bench_<name>.py` is a script that starts what it measures on this machine, drives it
with a load generator, prints its figures (with the baseline it measured in the same run and
the ratio), and stops everything it started. Usage:

    python deploy/bench/run.py            # all of them
    python deploy/bench/run.py gateway    # just bench_gateway.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    if not scripts:
        print("no benchmark matches", names or "(none present)")
        return 1
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem.removeprefix('bench_')} ===", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.stem)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
