"""What `make run` says when the database or broker is not there (one line, the setting to change)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_unreachable_database_and_broker_give_one_clear_line() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TDC_MYSQL_URL": "mysql://root:@127.0.0.1:1",
        "TDC_AMQP_URL": "amqp://guest:guest@127.0.0.1:2/",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "local" / "stack.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TDC_MYSQL_URL" in lines[0] and "TDC_AMQP_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_services_are_discovered_from_their_folders() -> None:
    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    try:
        import stack

        expected = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
        assert stack.discover_services() == expected
    finally:
        sys.path.pop(0)
