"""Does anything answer at a server URL's host and port? (a TCP connect, nothing more)"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def answers(url: str, default_port: int, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout):
            return True
    except OSError:
        return False
