"""Helpers for the notification tests: the app on a fresh schema, events on the real bus, waits."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import httpx2

from tdc_notification.app import build
from tdc_notification.clock import Clock, iso
from tdc_notification.sender import Sender
from tdc_notification.settings import NotificationSettings
from tdc_notification.smtp import Mailer, SmtpTarget
from tdc_shared.auth import KeySet, TokenVerifier
from tdc_shared.events import Event
from tdc_shared.testing.keys import AUDIENCE, ISSUER, SigningKey, jwks

SECRET = "test-unsubscribe-secret"


def make_settings(mysql_url: str, amqp_url: str, prefix: str, namespace: str, smtp_url: str, **extra: Any):
    return NotificationSettings(
        env="test",
        mysql_url=mysql_url,
        amqp_url=amqp_url,
        db_prefix=prefix,
        bus_namespace=namespace,
        bus_retry_delay_seconds=0.02,
        notification_smtp_url=smtp_url,
        notification_mail_from="The Dreamer's Cave <club@dreamerscave.test>",
        notification_unsubscribe_secret=SECRET,
        notification_retry_base_seconds=60,
        notification_sender_enabled=False,  # the tests drive senders themselves, batch by batch
        frontend_url="https://club.test",
        public_api_url="https://api.club.test",
        log_level="WARNING",
        **extra,
    )


class Service:
    """A running notification app, a client, tokens, the clock, and the real bus."""

    def __init__(self, app, client: httpx2.AsyncClient, key: SigningKey, clock: Clock, exchange) -> None:
        self.app = app
        self.client = client
        self.key = key
        self.clock = clock
        self.exchange = exchange
        self.admin = self.auth(1, "admin")
        self.staff = self.auth(2, "staff")

    def auth(self, user_id: int, role: str = "user") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key.token(sub=user_id, role=role)}"}

    @property
    def db(self):
        return self.app.state.db

    @property
    def settings(self) -> NotificationSettings:
        return self.app.state.settings

    def sender(self, smtp_url: str, name: str = "test-sender") -> Sender:
        target = SmtpTarget.parse(smtp_url)
        return Sender(self.db, self.app.state.notifier, Mailer(target, 10.0), name=name)

    async def publish(self, event_type: str, data: dict[str, Any], *, event_id: uuid.UUID | None = None) -> Event:
        """An event on the bus as a producer's relay sends it; returns once it was processed."""
        event = Event(
            type=event_type, source=event_type.split(".")[0], data=data, **({"id": event_id} if event_id else {})
        )
        await self.exchange.publish(
            aio_pika.Message(
                body=event.to_json().encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=str(event.id),
                type=event.type,
            ),
            routing_key=event.type,
        )
        await wait_until(lambda: self._processed(event), what=f"{event_type} to be processed")
        return event

    async def _processed(self, event: Event) -> bool:
        return bool(await self.db.fetch_value("SELECT 1 FROM processed_events WHERE event_id = %s", (str(event.id),)))

    async def mails(self, **where: Any) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all("SELECT * FROM mails ORDER BY id")
        return [r for r in rows if all(r[k] == v for k, v in where.items())]

    async def verified_user(self, user_id: int, email: str, language: str = "en", **prefs: Any) -> None:
        """A verified, active account known from auth's events, with preferences set."""
        await self.publish(
            "auth.user.updated",
            {
                "user_id": user_id,
                "email": email,
                "username": f"user{user_id}",
                "display_name": None,
                "language": language,
                "is_active": True,
                "email_verified": True,
            },
        )
        if prefs:
            response = await self.client.put(
                "/api/v1/user/notifications/preferences", json=prefs, headers=self.auth(user_id)
            )
            assert response.status_code == 200, response.text


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_service(settings: NotificationSettings, key: SigningKey, clock: Clock) -> AsyncIterator[Service]:
    app = build(
        settings,
        verifier=lambda s: TokenVerifier(KeySet.static(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
        clock=clock,
    )
    async with app.router.lifespan_context(app):
        async with asyncio.timeout(30):
            await app.state.event_bus.wait_ready()
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                f"{settings.bus_namespace}.events", aio_pika.ExchangeType.TOPIC, durable=True
            )
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://notification.test") as client:
                yield Service(app, client, key, clock, exchange)


def event_payload(
    event_id: int, start_in_hours: float, clock: Clock, *, location: dict | None = None, artists=(), **extra
):
    from datetime import timedelta

    start = clock.now() + timedelta(hours=start_in_hours)
    return {
        "id": event_id,
        "uid": f"event-{event_id}@dreamerscave.test",
        "slug": f"night-{event_id}",
        "status": "published",
        "start_utc": iso(start),
        "end_utc": iso(start + timedelta(hours=3)),
        "timezone": "America/Los_Angeles",
        "location": location,
        "artists": [
            {"id": a["id"], "slug": a["slug"], "name": a["name"], "position": i} for i, a in enumerate(artists)
        ],
        "translations": {
            "en": {"title": "Moon Night"},
            "it": {"title": "Notte di Luna"},
            "fr": {"title": "Nuit de Lune"},
            "es": {"title": "Noche de Luna"},
        },
        "sequence": 0,
        "is_featured": False,
        "image_url": None,
        **extra,
    }
