"""The kinds of mail: how urgent each is, whether it carries a security link, what unsubscribes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    priority: int  # lower is sent first
    security: bool  # one-time link inside: no List-Unsubscribe, context erased once sent
    topic: str | None  # the unsubscribe topic (tdc_notification.unsubscribe.TOPICS)


SECURITY, ACCOUNT, REMINDER, BULK = 0, 1, 2, 3

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("verify_email", SECURITY, True, None),
        Kind("password_reset", SECURITY, True, None),
        Kind("registration_attempt", SECURITY, True, None),
        # A notice about the account itself, like a security mail: no unsubscribing from it.
        Kind("role_changed", SECURITY, True, None),
        Kind("welcome", ACCOUNT, False, "account"),
        Kind("supporter_thanks", ACCOUNT, False, "account"),
        Kind("event_cancelled", ACCOUNT, False, "reminders"),
        Kind("event_reminder", REMINDER, False, "reminders"),
        Kind("newsletter", BULK, False, "newsletter"),
    )
}
SECURITY_KINDS = tuple(k.name for k in KINDS.values() if k.security)
