"""Where the processes a benchmark starts write their logs: a file, so the terminal shows figures.

`run.py` names one file for the whole `make bench` (BENCH_LOG) and prints it; a benchmark run
on its own gets `.run/bench/<name>.log`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


def log_path(name: str) -> Path:
    path = Path(os.environ.get("BENCH_LOG") or ROOT / ".run" / "bench" / f"{name}.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def log_sink(name: str) -> IO[bytes]:
    """An append handle for a child's stdout and stderr (the child keeps its own copy open)."""
    return log_path(name).open("ab")
