"""Real servers that refuse: 4xx and a dropped connection are retried with backoff, 5xx is final."""

from __future__ import annotations

from notification_testkit import Service
from smtp_servers import Behaviour, SmtpServer

RESET = {"user_id": 70, "email": "eve@example.com", "username": "eve", "language": "en", "token": "t" * 43}


async def _attempts(service: Service, mail_id: int) -> list[dict]:
    response = await service.client.get(f"/api/v1/admin/notifications/queue/{mail_id}", headers=service.admin)
    assert response.status_code == 200, response.text
    return response.json()["data"]["attempt_log"]


async def test_a_451_is_retried_after_the_backoff_then_delivered(service: Service):
    await service.publish("auth.password_reset.requested", RESET)
    with SmtpServer(Behaviour(replies=["451 4.3.0 Try again later"])) as server:
        sender = service.sender(server.url)
        assert await sender.send_batch() == 1
        [row] = await service.mails()
        assert row["status"] == "pending" and row["attempts"] == 1 and "451" in row["last_error"]
        assert row["context"] is not None  # still needed for the retry
        assert await sender.send_batch() == 0  # not due before the backoff
        service.clock.advance(61)
        assert await sender.send_batch() == 1
        assert len(server.to("eve@example.com")) == 1
    [row] = await service.mails()
    assert row["status"] == "sent" and row["attempts"] == 2 and row["context"] is None
    log = await _attempts(service, row["id"])
    assert [(a["outcome"], a["smtp_code"]) for a in log] == [("retry", 451), ("sent", 250)]
    assert "Try again later" in log[0]["smtp_reply"]
    assert log[0]["attempted_at"].endswith("Z")


async def test_a_550_is_final_and_kept_for_the_admin(service: Service):
    await service.publish("auth.password_reset.requested", RESET)
    with SmtpServer(Behaviour(replies=["550 5.1.1 No such mailbox"])) as server:
        sender = service.sender(server.url)
        assert await sender.send_batch() == 1
        service.clock.advance(3600)
        assert await sender.send_batch() == 0
        assert server.received == []
    [row] = await service.mails()
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["context"] is None  # a dead security link is not kept either
    assert [(a["outcome"], a["smtp_code"]) for a in await _attempts(service, row["id"])] == [("failed", 550)]
    # Its link is gone, so an admin cannot send it again: the user asks for a new one.
    response = await service.client.post(f"/api/v1/admin/notifications/queue/{row['id']}/retry", headers=service.admin)
    assert response.status_code == 409
    assert "no longer kept" in response.json()["error"]


async def test_a_connection_dropped_mid_data_is_retried_on_a_new_connection(service: Service):
    await service.publish("auth.password_reset.requested", RESET)
    with SmtpServer(Behaviour(drop_first=1)) as server:
        sender = service.sender(server.url)
        assert await sender.send_batch() == 1
        [row] = await service.mails()
        assert row["status"] == "pending" and "connection lost" in row["last_error"]
        service.clock.advance(61)
        assert await sender.send_batch() == 1
        assert server.handler.data_commands == 2
        assert len(server.to("eve@example.com")) == 1
    [row] = await service.mails()
    assert row["status"] == "sent"
    log = await _attempts(service, row["id"])
    assert [a["outcome"] for a in log] == ["retry", "sent"] and log[0]["smtp_code"] is None


async def test_retries_stop_at_the_limit(service: Service):
    service.settings.notification_max_attempts = 3
    await service.publish("auth.password_reset.requested", RESET)
    with SmtpServer(Behaviour(replies=["421 4.7.0 Busy"] * 10)) as server:
        sender = service.sender(server.url)
        for _ in range(5):
            await sender.send_batch()
            service.clock.advance(3600)
    [row] = await service.mails()
    assert row["status"] == "failed" and row["attempts"] == 3
    assert [a["outcome"] for a in await _attempts(service, row["id"])] == ["retry", "retry", "failed"]


async def test_an_unreachable_relay_is_retried(service: Service):
    from smtp_servers import free_port

    await service.publish("auth.password_reset.requested", RESET)
    assert await service.sender(f"smtp://127.0.0.1:{free_port()}").send_batch() == 1
    [row] = await service.mails()
    assert row["status"] == "pending" and row["attempts"] == 1
