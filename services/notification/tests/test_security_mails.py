"""Verification, reset and registration-attempt mails: sent at once, first, and not kept readable."""

from __future__ import annotations

import re

from notification_testkit import Service
from smtp_servers import SmtpServer

TOKEN = "tok-" + "x" * 40


def link_of(text: str) -> str:
    match = re.search(r"https://club\.test/\S+", text)
    assert match, text
    return match.group(0)


async def test_verification_link_is_mailed_in_the_readers_language_and_then_forgotten(
    service: Service, sink: SmtpServer
):
    await service.publish(
        "auth.email_verification.requested",
        {
            "user_id": 41,
            "email": "ada@example.com",
            "username": "ada",
            "language": "it",
            "token": TOKEN,
            "expires_at": "2026-12-02T19:00:00Z",
        },
    )
    assert await service.sender(sink.url).send_batch() == 1
    [mail] = sink.to("ada@example.com")
    assert mail.subject == "Conferma il tuo indirizzo email"
    assert link_of(mail.part("plain")) == f"https://club.test/verify-email?token={TOKEN}"
    assert f'href="https://club.test/verify-email?token={TOKEN}"' in mail.part("html")
    assert mail.message["Message-ID"].endswith("@dreamerscave.test>")
    assert mail.message["Date"]
    assert mail.message["List-Unsubscribe"] is None  # never on a security mail
    [row] = await service.mails(kind="verify_email")
    assert row["status"] == "sent" and row["priority"] == 0
    assert row["context"] is None  # the link is not kept once sent
    assert TOKEN not in row["idempotency_key"]
    stored = await service.db.fetch_all("SELECT * FROM mails")
    assert TOKEN not in repr(stored)


async def test_reset_mail_and_registration_attempt_go_before_bulk_mail(service: Service, sink: SmtpServer):
    await service.verified_user(50, "reader@example.com", newsletter=True)
    await service.publish(
        "blog.post.published",
        {"id": 9, "slug": "news", "translations": {"en": {"title": "News", "excerpt": "Hi"}}, "visibility": "public"},
    )
    await service.publish(
        "auth.password_reset.requested",
        {
            "user_id": 51,
            "email": "bob@example.com",
            "username": "bob",
            "language": "fr",
            "token": TOKEN,
            "expires_at": None,
        },
    )
    await service.publish(
        "auth.user.registration_attempted",
        {"user_id": 52, "email": "cy@example.com", "username": "cy", "language": "es"},
    )
    service.settings.notification_sender_batch = 1
    sender = service.sender(sink.url)
    for _ in range(3):
        assert await sender.send_batch() == 1
    assert [r.to[0] for r in sink.received] == ["bob@example.com", "cy@example.com", "reader@example.com"]
    reset, attempt, newsletter = sink.received
    assert reset.subject == "Réinitialisez votre mot de passe"
    assert link_of(reset.part("plain")) == f"https://club.test/reset-password?token={TOKEN}"
    assert attempt.subject == "Alguien intentó registrarse con tu dirección"
    assert "https://club.test/login" in attempt.part("plain")
    assert "https://club.test/forgot-password" in attempt.part("plain")
    assert attempt.message["List-Unsubscribe"] is None
    assert newsletter.message["List-Unsubscribe"] is not None


async def test_the_same_request_delivered_twice_mails_once(service: Service, sink: SmtpServer):
    data = {"user_id": 60, "email": "dee@example.com", "username": "dee", "language": "en", "token": TOKEN}
    event = await service.publish("auth.email_verification.requested", data)
    await service.publish("auth.email_verification.requested", data, event_id=event.id)  # a redelivery
    await service.publish("auth.email_verification.requested", data)  # the same request, another event id
    assert len(await service.mails(kind="verify_email")) == 1
    await service.sender(sink.url).send_batch()
    assert len(sink.to("dee@example.com")) == 1
