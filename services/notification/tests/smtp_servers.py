"""Real SMTP servers (aiosmtpd) for the tests: a sink, and servers that misbehave on purpose."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return body.get_content()


@dataclass
class Behaviour:
    """What the server answers to DATA: a list of replies used in turn, then 250 for ever."""

    replies: list[str] = field(default_factory=list)
    drop_first: int = 0  # close the connection instead of answering DATA, this many times


class Handler:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.data_commands = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.data_commands += 1
            if self.behaviour.drop_first > 0:
                self.behaviour.drop_first -= 1
                server.transport.close()  # mid-DATA: the message was sent, no reply ever comes
                return "250 never seen"
            if self.behaviour.replies:
                reply = self.behaviour.replies.pop(0)
                if not reply.startswith("2"):
                    return reply
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(Received(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, behaviour: Behaviour | None = None, **smtp_parameters: Any) -> None:
        self.handler = Handler(behaviour or Behaviour())
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **smtp_parameters)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def to(self, address: str) -> list[Received]:
        return [r for r in self.handler.received if address in r.to]

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
