"""Signed one-click unsubscribe tokens: `<user>.<topic>.<expires>.<signature>`.

The token is the whole authorization of `POST /api/v1/notifications/unsubscribe`, so it is an
HMAC-SHA256 over its fields with the service's secret, compared in constant time, and it
expires (mail clients keep old mails for years; a leaked link stops working eventually).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# What a token turns off; see `queries.preferences.unsubscribe`.
TOPICS = ("reminders", "newsletter", "account")


class BadToken(ValueError):
    """Malformed, forged or expired; the message is safe to show."""


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    topic: str


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret: str, user_id: int, topic: str, now: datetime, ttl_days: int) -> str:
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    expires = int((now + timedelta(days=ttl_days)).replace(tzinfo=UTC).timestamp())
    payload = f"{user_id}.{topic}.{expires}"
    return f"{payload}.{_signature(secret, payload)}"


def read_token(secret: str, token: str, now: datetime) -> Unsubscribe:
    parts = token.split(".")
    if len(parts) != 4:
        raise BadToken("Malformed unsubscribe token")
    user, topic, expires, signature = parts
    if not hmac.compare_digest(_signature(secret, f"{user}.{topic}.{expires}"), signature):
        raise BadToken("Invalid unsubscribe token")
    if not (user.isdigit() and expires.isdigit()) or topic not in TOPICS:
        raise BadToken("Malformed unsubscribe token")
    if int(expires) < now.replace(tzinfo=UTC).timestamp():
        raise BadToken("Unsubscribe token expired")
    return Unsubscribe(int(user), topic)
