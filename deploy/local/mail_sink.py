"""A local SMTP sink for `make run` and the end-to-end tests: every mail is kept, nothing leaves.

    python deploy/local/mail_sink.py [--port 1025] [--dir .run/mail]

Each mail received is written to the directory as an `.eml` file (open it with any mail
client) and logged with its recipient, subject and first link, so a developer can click
through a verification or reset link without a real mail server. `make run` starts one on a
free port and points the notification service at it (TDC_NOTIFICATION_SMTP_URL), unless that
variable is already set.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import socket
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://[^\s<>\"']+")


def first_link(message: EmailMessage) -> str | None:
    body = message.get_body(preferencelist=("plain", "html"))
    match = LINK.search(body.get_content()) if body is not None else None
    return match.group(0) if match else None


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.keep(list(envelope.rcpt_tos), message, envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    def __init__(self, directory: Path, port: int = 0, echo: bool = True) -> None:
        self.directory = directory
        self.port = port or _free_port()
        self.echo = echo
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()
        self._count = 0
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailSink:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def keep(self, recipients: list[str], message: EmailMessage, raw: bytes) -> None:
        with self._lock:
            self._count += 1
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{self._count:05d}.eml"
            self.messages.append((recipients, message))
        (self.directory / name).write_bytes(raw)
        if self.echo:
            print(
                f"[mail] to {', '.join(recipients)}: {message['Subject']}  {first_link(message) or ''}"
                f"  ({self.directory / name})",
                flush=True,
            )

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for recipients, m in self.messages if address in recipients]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_for(env: dict[str, str], directory: Path) -> MailSink | None:
    """A sink for the stack, unless a relay is configured; points `env` at it."""
    if env.get("TDC_NOTIFICATION_SMTP_URL"):
        return None
    sink = MailSink(directory).start()
    env["TDC_NOTIFICATION_SMTP_URL"] = sink.url
    print(f"mail sink on {sink.url}: every mail is written to {directory}", flush=True)
    return sink


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parents[2] / ".run" / "mail")
    args = parser.parse_args()
    sink = MailSink(args.dir, args.port).start()
    print(f"mail sink on {sink.url}, writing to {args.dir}; Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
