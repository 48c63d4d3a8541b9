"""From a queued row to an RFC 5322 message: template variables, links, headers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tdc_shared.i18n import DEFAULT_LANGUAGE

from .clock import iso, parse_utc
from .kinds import KINDS
from .templates import Rendered, Templates

SL_TIMEZONE = "America/Los_Angeles"


def pick(texts: Any, language: str) -> str:
    """A translated text from {lang: text}, English (then any) when the language has none."""
    if not isinstance(texts, dict):
        return str(texts or "")
    return str(texts.get(language) or texts.get(DEFAULT_LANGUAGE) or next((v for v in texts.values() if v), ""))


def _local_time(start: datetime, zone: str) -> str:
    try:
        tz = ZoneInfo(zone or SL_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(SL_TIMEZONE)
    return start.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def template_vars(kind: str, context: dict[str, Any], language: str, links: dict[str, str]) -> dict[str, Any]:
    """What the templates of `kind` read, from the stored context, in `language`."""
    out: dict[str, Any] = {"name": context.get("name") or "", **links}
    if kind in ("event_reminder", "event_cancelled"):
        event = context.get("event") or {}
        start = parse_utc(event.get("start_utc")) or datetime(1970, 1, 1)
        out.update(
            title=pick(event.get("titles"), language) or event.get("slug", ""),
            starts_local=_local_time(start, event.get("timezone") or SL_TIMEZONE),
            starts_utc=start.strftime("%Y-%m-%d %H:%M UTC"),
            location=event.get("location") or "",
            artists=", ".join(event.get("artists") or []),
            link=f"{links['site_url']}/events/{event.get('slug', '')}",
        )
    elif kind == "newsletter":
        out.update(
            title=pick(context.get("titles"), language),
            excerpt=pick(context.get("excerpts"), language),
            gated=bool(context.get("gated")),
            link=f"{links['site_url']}/blog/{context.get('slug', '')}",
        )
    else:
        for key in ("link", "expires_at", "signin_url", "reset_url", "tier", "role"):
            out[key] = context.get(key) or ""
    return out


def message_id(mail_id: int, idempotency_key: str, mail_from: str) -> str:
    """The same Message-ID on every attempt of one mail, so a receiver can tell a repeat."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
    return f"<{mail_id}.{digest}@{domain}>"


# Quoted-printable bodies stay readable in the .eml files of the local sink.
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP


def _part(text: str, subtype: str) -> MIMEText:
    part = MIMEText("", subtype)
    part.set_payload(text, charset=UTF8_QP)
    return part


def build_message(
    rendered: Rendered,
    *,
    mail_from: str,
    to: str,
    message_id_value: str,
    now: datetime,
    unsubscribe_url: str | None,
) -> Message:
    """multipart/alternative: text, then HTML. Built with the compat32 classes, which build and
    serialize a mail about four times faster than `EmailMessage` (measured: 0.5 ms against 2.2)."""
    message = MIMEMultipart("alternative")
    message["From"] = mail_from
    message["To"] = to
    subject = rendered.subject
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()  # RFC 2047
    message["Date"] = format_datetime(now.replace(tzinfo=ZoneInfo("UTC")))
    message["Message-ID"] = message_id_value
    message["Content-Language"] = rendered.language
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url is not None:
        # RFC 8058: a POST to this URL with `List-Unsubscribe=One-Click` unsubscribes, no sign-in.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(_part(rendered.text, "plain"))
    message.attach(_part(rendered.html, "html"))
    return message


def is_security(kind: str) -> bool:
    spec = KINDS.get(kind)
    return spec is None or spec.security


__all__ = ["Templates", "build_message", "iso", "message_id", "pick", "template_vars"]
