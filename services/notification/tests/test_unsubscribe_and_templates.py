"""One-click unsubscribe (RFC 8058) and the templates in four languages with English fallback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from notification_testkit import SECRET, Service

from tdc_notification import compose
from tdc_notification.clock import Clock
from tdc_notification.kinds import KINDS
from tdc_notification.templates import TEMPLATES, Templates
from tdc_notification.unsubscribe import BadToken, make_token, read_token
from tdc_shared.i18n import LANGUAGES

UNSUBSCRIBE = "/api/v1/notifications/unsubscribe"
LINKS = {"site_url": "https://club.test", "events_url": "https://club.test/events", "unsubscribe_url": ""}


async def test_the_link_in_a_newsletter_unsubscribes_without_sign_in(service: Service, sink):
    await service.verified_user(5, "n@example.com", newsletter=True, event_reminders=True)
    await service.publish("blog.post.published", {"id": 1, "slug": "one", "translations": {"en": {"title": "One"}}})
    await service.sender(sink.url).send_batch()
    [mail] = sink.received
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(.+)>", mail.message["List-Unsubscribe"]).group(1)
    assert url.startswith("https://api.club.test/api/v1/notifications/unsubscribe?token=")
    path = url.removeprefix("https://api.club.test")
    response = await service.client.post(path, content="List-Unsubscribe=One-Click")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"unsubscribed": "newsletter"}
    prefs = (await service.client.get("/api/v1/user/notifications/preferences", headers=service.auth(5))).json()
    assert prefs["data"]["newsletter"] is False and prefs["data"]["event_reminders"] is True
    # Pressing it twice is fine.
    assert (await service.client.post(path)).status_code == 200


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("garbage", "Malformed unsubscribe token"),
        ("5.newsletter.9999999999.forged", "Invalid unsubscribe token"),
        ("", None),
    ],
)
async def test_bad_tokens_are_refused(service: Service, token, message):
    response = await service.client.post(f"{UNSUBSCRIBE}?token={token}")
    assert response.status_code in (400, 422)
    body = response.json()
    assert body["success"] is False and "token" in body["errors"]
    if message:
        assert body["error"] == message
    assert (await service.client.post(UNSUBSCRIBE)).status_code == 422


async def test_an_expired_token_is_refused(service: Service):
    token = make_token(SECRET, 5, "reminders", service.clock.now(), ttl_days=1)
    service.clock.advance(2 * 86400)
    response = await service.client.post(f"{UNSUBSCRIBE}?token={token}")
    assert response.status_code == 400 and response.json()["error"] == "Unsubscribe token expired"


def test_tokens_are_bound_to_their_fields_and_secret():
    now = Clock().now()
    token = make_token(SECRET, 5, "reminders", now, 30)
    assert read_token(SECRET, token, now).topic == "reminders"
    with pytest.raises(BadToken):
        read_token("another-secret", token, now)
    user, topic, expires, signature = token.split(".")
    with pytest.raises(BadToken):
        read_token(SECRET, f"6.{topic}.{expires}.{signature}", now)
    with pytest.raises(BadToken):
        read_token(SECRET, f"{user}.newsletter.{expires}.{signature}", now)


def _context(kind: str) -> dict:
    return {
        "name": "Ada & <Bo>",
        "link": "https://club.test/x?token=abc",
        "expires_at": "2026-12-02T19:00:00Z",
        "signin_url": "https://club.test/login",
        "reset_url": "https://club.test/forgot-password",
        "role": "staff",
        "event": {
            "slug": "n",
            "titles": {"en": "Rock & <Roll>", "it": "Notte"},
            "start_utc": "2026-12-05T04:00:00Z",
            "timezone": "America/Los_Angeles",
            "location": "Hall",
            "artists": ["A"],
        },
        "titles": {"en": "Post", "fr": "Billet"},
        "excerpts": {"en": "Teaser"},
        "slug": "p",
        "gated": True,
    }


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_exists_in_every_language_and_escapes_html(kind: str, language: str):
    assert (TEMPLATES / language / f"{kind}.jinja").exists()
    rendered = Templates().render(kind, language, compose.template_vars(kind, _context(kind), language, LINKS))
    assert rendered.language == language and rendered.subject and rendered.text.strip()
    assert "<Bo>" not in rendered.html and "<Roll>" not in rendered.html  # autoescaped
    assert f'<html lang="{language}">' in rendered.html


def test_subjects_and_text_parts_are_not_html_escaped():
    rendered = Templates().render(
        "event_reminder", "en", compose.template_vars("event_reminder", _context("x"), "en", LINKS)
    )
    assert rendered.subject.startswith("Reminder: Rock & <Roll> starts 2026-12-04 20:00 PST")
    assert "Rock &amp; &lt;Roll&gt;" in rendered.html
    assert "Rock & <Roll>" in rendered.text


def test_a_missing_language_falls_back_to_english(tmp_path: Path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "welcome.jinja").write_text(
        "{% block subject %}Hi {{ name }}{% endblock %}{% block text %}T{% endblock %}{% block html %}H{% endblock %}"
    )
    (tmp_path / "layout.jinja").write_text("<html>{{ body }}</html>")
    rendered = Templates(tmp_path).render("welcome", "it", {"name": "Ada"})
    assert (rendered.subject, rendered.language, rendered.html) == ("Hi Ada", "en", "<html>H</html>")
    assert Templates(tmp_path).render("welcome", "xx", {"name": "Ada"}).language == "en"
    with pytest.raises(LookupError):
        Templates(tmp_path).render("newsletter", "en", {})
