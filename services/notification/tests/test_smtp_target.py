"""The relay URL, and credentials from it used for SMTP AUTH against a real server."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from notification_testkit import Service
from smtp_servers import SmtpServer

from tdc_notification.settings import NotificationSettings
from tdc_notification.smtp import SmtpTarget


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.example", ("relay.example", 25, None, None, False, False)),
        ("smtp://u:p@relay.example:2525", ("relay.example", 2525, "u", "p", False, False)),
        (
            "smtp+starttls://mailer:s%40cret@smtp.example.com",
            ("smtp.example.com", 587, "mailer", "s@cret", False, True),
        ),
        ("smtps://mailer:pw@smtp.example.com", ("smtp.example.com", 465, "mailer", "pw", True, False)),
    ],
)
def test_urls_parse(url: str, expected: tuple):
    target = SmtpTarget.parse(url)
    assert (target.host, target.port, target.username, target.password, target.use_tls, target.start_tls) == expected


@pytest.mark.parametrize("url", ["http://relay", "smtp://", "relay.example:25", "smtp+ssl://relay"])
def test_bad_urls_are_refused_at_start_up(url: str):
    with pytest.raises(ValueError, match="SMTP URL"):
        NotificationSettings(env="test", notification_smtp_url=url)


def test_production_refuses_the_development_relay_and_secret():
    with pytest.raises(ValueError, match="TDC_NOTIFICATION_UNSUBSCRIBE_SECRET, TDC_NOTIFICATION_SMTP_URL"):
        NotificationSettings(env="prod", mysql_url="mysql://a:b@db", amqp_url="amqp://a:b@mq/")


# The relay here is on loopback with AUTH over plain SMTP, which aiosmtpd warns about (a
# production relay is reached with smtps:// or smtp+starttls://, whose parsing is tested above).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_credentials_in_the_url_sign_in_to_the_relay(service: Service):
    seen: list[tuple[str, str]] = []

    def text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def authenticator(server, session, envelope, mechanism, data) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((text(data.login), text(data.password)))
        return AuthResult(success=seen[-1] == ("mailer", "s@cret"), handled=False)

    await service.verified_user(3, "auth@example.com")
    await service.publish(
        "auth.user.registered", {"user_id": 3, "email": "auth@example.com", "username": "a", "language": "en"}
    )
    with SmtpServer(auth_required=True, auth_require_tls=False, authenticator=authenticator) as server:
        wrong = service.sender(f"smtp://mailer:wrong@127.0.0.1:{server.port}")
        assert await wrong.send_batch() == 1
        [row] = await service.mails()
        assert row["status"] == "failed" and row["last_error"].startswith("535"), (
            row["status"],
            row["last_error"],
        )  # a refused sign-in is final
        retried = await service.client.post(
            f"/api/v1/admin/notifications/queue/{row['id']}/retry", headers=service.admin
        )
        assert retried.status_code == 200
        right = service.sender(f"smtp://mailer:s%40cret@127.0.0.1:{server.port}")
        assert await right.send_batch() == 1
        assert len(server.to("auth@example.com")) == 1
    assert seen[0] == ("mailer", "wrong") and seen[-1] == ("mailer", "s@cret")
