"""Helpers the auth tests import (a module name of its own, so no other test folder's module shadows it)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx2
from fastapi import FastAPI

from tdc_auth.models import user_out
from tdc_auth.queries import users

ADMIN_EMAIL = "root-admin@example.com"
ADMIN_PASSWORD = "the cave opens at nine"


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def unique_username(tag: str = "u") -> str:
    return f"{tag}_{uuid.uuid4().hex[:10]}"


class Accounts:
    """Small factories over the real endpoints."""

    def __init__(self, client: httpx2.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app

    async def register(self, email: str | None = None, password: str = "correct horse battery", **extra: Any):
        body = {"email": email or unique_email(), "username": unique_username(), "password": password, **extra}
        response = await self.client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 202, response.text
        # The answer says only "check your mail" (alike for known addresses): read the new account.
        async with self.app.state.db.transaction() as tx:
            row = await users.by_email(tx, body["email"])
        assert row is not None and row["username"] == body["username"], "no new account was created"
        return {**user_out(row), "password": password}

    async def login(self, email: str, password: str) -> dict[str, Any]:
        response = await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def signed_in(self, **kwargs: Any) -> dict[str, Any]:
        user = await self.register(**kwargs)
        tokens = await self.login(user["email"], user["password"])
        return {**user, **tokens, "headers": {"Authorization": f"Bearer {tokens['access_token']}"}}

    async def admin(self) -> dict[str, Any]:
        tokens = await self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        return {**tokens, "headers": {"Authorization": f"Bearer {tokens['access_token']}"}}

    async def events(self, event_type: str, **match: Any) -> list[dict[str, Any]]:
        """Events this service wrote to its outbox, optionally only those whose data matches."""
        rows = await self.app.state.db.fetch_all(
            "SELECT payload FROM outbox WHERE event_type = %s ORDER BY id", (event_type,)
        )
        events = [json.loads(row["payload"]) for row in rows]
        return [e for e in events if all(e["data"].get(k) == v for k, v in match.items())]
