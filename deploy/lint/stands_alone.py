"""Fail when a tracked file reaches outside the repository for something it needs.

The repository must work from a clone with nothing beside it: no code, test, script or note
may read a folder beside the checkout. Run by `make lint`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A relative climb out of the tree into a sibling, an absolute path to the work area, or a
# pathlib climb past the repository root (the root's parent joined with a folder name).
OUTSIDE = re.compile(
    r"\.\./+shared\b|/work/shared\b|\bROOT\.parent\b|REPO_ROOT\.parent\b|\.parent\s*/\s*[\"']shared[\"']"
)
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name and name != THIS]


def main() -> int:
    offenders = []
    for name in tracked_files():
        path = ROOT / name
        if name.endswith(".lock") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    for offender in offenders:
        print(f"reads outside the repository: {offender}", file=sys.stderr)
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
