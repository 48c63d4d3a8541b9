"""The club's Facebook page through the Graph API: one post per event, edited and deleted.

Facebook no longer lets apps create Page events (`#12 events management API is deprecated`),
so the post is the integration. Errors are told apart by Graph's `error.code`.
"""

from __future__ import annotations

from typing import Any

import httpx2

from .. import render
from ..settings import IntegrationSettings
from .base import Backoff, CallLog, PushFailed, Transient, json_or_text

INTEGRATION = "facebook"
TARGET = "page"
# 1/2 transient, 4 app limit, 17 user limit, 32 page limit, 341 app limit, 613 rate limit.
RETRY_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})
TOKEN_INVALID = 190
BLOCKED = 368
DUPLICATE = 506


def error_of(body: Any) -> tuple[int | None, str]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code")
        return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None), str(
            error.get("message") or ""
        )
    return None, ""


class FacebookPage:
    def __init__(self, settings: IntegrationSettings, http: httpx2.AsyncClient, calls: CallLog, backoff: Backoff):
        self.settings = settings
        self.http = http
        self.calls = calls
        self.backoff = backoff
        self.page_id = settings.integration_facebook_page_id
        self.base = (
            f"{settings.integration_facebook_graph_url.rstrip('/')}/{settings.integration_facebook_graph_version}"
        )

    async def call(
        self, method: str, node: str, token: str, *, form: dict[str, str] | None, action: str, catalog_id: int
    ) -> tuple[str, Any]:
        """("ok" | "duplicate" | "missing", body) after retrying what Graph calls transient."""

        async def attempt() -> tuple[str, Any]:
            return await self._once(method, node, token, form, action, catalog_id)

        return await self.backoff.run(attempt)

    async def _once(
        self, method: str, node: str, token: str, form: dict[str, str] | None, action: str, catalog_id: int
    ) -> tuple[str, Any]:
        url = f"{self.base}/{node}"
        request = {"method": method, "url": url, "form": form}
        # The token travels in the header, so neither a URL nor a form we log holds it.
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self.http.request(method, url, data=form, headers=headers)
        except httpx2.HTTPError as exc:
            await self.calls.write(
                INTEGRATION,
                action,
                ok=False,
                target=TARGET,
                catalog_id=catalog_id,
                request=request,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise Transient(type(exc).__name__) from exc
        body = json_or_text(response.content)
        code, message = error_of(body)
        good = response.status_code < 300 and code is None
        await self.calls.write(
            INTEGRATION,
            action,
            ok=good or code == DUPLICATE,
            target=TARGET,
            catalog_id=catalog_id,
            http_status=response.status_code,
            request=request,
            response=body,
            error=None if good else f"#{code} {message}".strip(),
        )
        if good:
            return "ok", body
        if code == DUPLICATE:
            return "duplicate", body
        if code in RETRY_CODES or (code is None and response.status_code >= 500):
            raise Transient(f"#{code} {message}".strip())
        if code == TOKEN_INVALID:
            raise PushFailed(f"#190 {message}", "reauth")
        if code == BLOCKED:
            raise PushFailed(f"#368 {message}", "stop")
        if action in ("edit", "delete") and (code == 100 or response.status_code == 404):
            return "missing", body
        raise PushFailed(f"#{code} {message} (HTTP {response.status_code})".strip())

    async def push(self, row: dict[str, Any], link: dict[str, Any] | None, token: str) -> tuple[str, dict[str, Any]]:
        """(what it did, the new remote link) for the read model's state of one event."""
        snapshot, catalog_id = row["snapshot"], int(row["catalog_id"])
        post_id = link["remote_id"] if link and not link["removed"] else None
        fingerprint = render.facebook_fingerprint(snapshot, self.settings)
        if row["status"] == "deleted":
            if post_id:
                await self.call("DELETE", post_id, token, form=None, action="delete", catalog_id=catalog_id)
                return "deleted", {"remote_id": post_id, "fingerprint": fingerprint, "removed": True}
            return "nothing posted", {"remote_id": None, "fingerprint": fingerprint, "removed": True}
        message = render.facebook_message(snapshot, self.settings)
        if post_id is None:
            if row["status"] != "published":
                return "not announced", {"remote_id": None, "fingerprint": None, "removed": False}
            url = render.event_url(self.settings.integration_public_event_url, self.settings, snapshot)
            outcome, body = await self.call(
                "POST",
                f"{self.page_id}/feed",
                token,
                form={"message": message, "link": url},
                action="post",
                catalog_id=catalog_id,
            )
            remote = str(body.get("id")) if outcome == "ok" and isinstance(body, dict) and body.get("id") else None
            return ("posted" if remote else "duplicate"), {
                "remote_id": remote,
                "fingerprint": fingerprint,
                "removed": False,
            }
        if link and link["fingerprint"] == fingerprint:
            return "unchanged", {"remote_id": post_id, "fingerprint": fingerprint, "removed": False}
        outcome, _ = await self.call(
            "POST", post_id, token, form={"message": message}, action="edit", catalog_id=catalog_id
        )
        return ("edited" if outcome != "missing" else "post gone"), {
            "remote_id": post_id if outcome != "missing" else None,
            "fingerprint": fingerprint,
            "removed": outcome == "missing",
        }
