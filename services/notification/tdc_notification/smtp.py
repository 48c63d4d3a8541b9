"""The SMTP relay: its URL, one kept-open connection, and what each reply means for the queue.

    smtp://user:pass@host:25          plain (a local sink, a relay on a private network)
    smtp+starttls://user:pass@host:587 STARTTLS required
    smtps://user:pass@host:465         TLS from the first byte

A reply in the 2xx range is a delivery, 4xx (and a lost or refused connection, a timeout)
is worth trying again later, 5xx is final.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

# Serialized here rather than by aiosmtplib, whose compat32 generator folds header lines at 78
# characters: a folded List-Unsubscribe URL breaks one-click unsubscribe in mail clients.
WIRE_POLICY = compat32.clone(max_line_length=998, linesep="\r\n")

SCHEMES = {"smtp": (25, False, False), "smtp+starttls": (587, False, True), "smtps": (465, True, False)}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(
                f"the SMTP URL must start with smtp://, smtp+starttls:// or smtps://, not {parts.scheme!r}"
            )
        if not parts.hostname:
            raise ValueError("the SMTP URL names no host")
        default_port, use_tls, start_tls = SCHEMES[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
        )


@dataclass(frozen=True)
class Outcome:
    """What one SMTP transaction came to: `sent`, `retry` or `failed`, with the server's reply."""

    result: str
    code: int | None
    reply: str


def _reply_outcome(code: int, message: str) -> Outcome:
    if 200 <= code < 300:
        return Outcome("sent", code, message)
    return Outcome("retry" if 400 <= code < 500 else "failed", code, message)


class Mailer:
    """One connection to the relay, opened on first use and again after it drops."""

    def __init__(self, target: SmtpTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self.target.host,
            port=self.target.port,
            username=self.target.username,
            password=self.target.password,
            use_tls=self.target.use_tls,
            start_tls=self.target.start_tls,
            timeout=self.timeout,
        )
        try:
            await client.connect()  # greeting, EHLO, STARTTLS and AUTH as the URL asks
        except BaseException:
            client.close()  # a refused sign-in leaves the socket open otherwise
            raise
        self._client = client
        return client

    async def send(self, message: Message) -> Outcome:
        try:
            client = await self._connected()
            sender = parseaddr(str(message["From"]))[1]
            errors, response = await client.sendmail(sender, [str(message["To"])], message.as_bytes(policy=WIRE_POLICY))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            if refused is None:
                return Outcome("failed", None, str(exc))
            await self._reset()
            return _reply_outcome(refused.code, refused.message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError) as exc:
            await self.close()
            return Outcome("retry", None, f"connection lost: {exc}")
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            return _reply_outcome(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            return Outcome("retry", None, f"{type(exc).__name__}: {exc}")
        if errors:  # one recipient only, so any refusal is that recipient's
            refusal = next(iter(errors.values()))
            return _reply_outcome(refusal.code, refusal.message)
        return Outcome("sent", 250, response)

    async def _reset(self) -> None:
        """After a refused transaction, RSET keeps the connection usable; if not, drop it."""
        if self._client is None:
            return
        try:
            await self._client.rset()
        except Exception:
            await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                if client.is_connected:
                    await client.quit()
            with contextlib.suppress(Exception):
                client.close()
