"""POST /api/v1/webhooks/patreon: Patreon's signed deliveries (see ../webhooks.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tdc_shared.envelope import ApiError, fail, ok
from tdc_shared.openapi import raw_body

from ..webhooks import WebhookIntake

router = APIRouter(prefix="/api/v1/webhooks/patreon", tags=["webhooks"])

MESSAGES = {
    401: "Invalid webhook signature",
    503: "Webhook could not be processed now; deliver it again later",
}


class PatreonDelivery(BaseModel):
    """A member as Patreon saw it when it made the delivery (a JSON:API document), named by
    `X-Patreon-Event` (`members:pledge:create`, `members:update`, ...) and signed by
    `X-Patreon-Signature`, the hex HMAC-MD5 of these exact bytes with the webhook secret. Only the
    member's id and campaign are taken from it; the member's present state is read from Patreon."""

    # Documentation only: the route reads the bytes itself, since the signature covers them exactly.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "type": "member",
                        "id": "3f6c2a9e-71b4-4d8e-9a05-c2e8b1d47f10",
                        "attributes": {
                            "full_name": "Luna Vox",
                            "email": "luna@example.com",
                            "patron_status": "active_patron",
                            "currently_entitled_amount_cents": 1000,
                            "lifetime_support_cents": 3000,
                            "pledge_relationship_start": "2031-09-05T20:14:03.000+00:00",
                            "last_charge_date": "2031-11-05T08:02:11.000+00:00",
                            "last_charge_status": "Paid",
                        },
                        "relationships": {
                            "campaign": {"data": {"type": "campaign", "id": "10482001"}},
                            "user": {"data": {"type": "user", "id": "88555402"}},
                            "currently_entitled_tiers": {"data": [{"type": "tier", "id": "10482913"}]},
                        },
                    },
                    "included": [
                        {"type": "user", "id": "88555402", "attributes": {"full_name": "Luna Vox"}},
                        {
                            "type": "tier",
                            "id": "10482913",
                            "attributes": {"title": "Night Owl", "amount_cents": 1000, "published": True},
                        },
                    ],
                }
            ]
        },
    )

    data: dict[str, Any] = Field(description="The member: type, id, attributes and relationships")
    included: list[dict[str, Any]] = Field(default=[], description="The user, campaign and tiers it refers to")


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("Request body too large", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError("Request body too large", status=413)
    return bytes(body)


@router.post(
    "",
    summary="A Patreon webhook delivery (X-Patreon-Signature: hex HMAC-MD5 of the body)",
    openapi_extra=raw_body(PatreonDelivery),
)
async def receive(request: Request) -> JSONResponse:
    intake: WebhookIntake = request.app.state.webhooks
    body = await _body(request, request.app.state.settings.membership_webhook_max_bytes)
    outcome = await intake.receive(
        body, request.headers.get("x-patreon-event"), request.headers.get("x-patreon-signature")
    )
    if outcome.status == 200:
        return ok({"outcome": outcome.outcome, "detail": outcome.detail})
    if outcome.outcome == "not_configured":
        return fail("Patreon webhooks are not configured", 503, headers={"Retry-After": "3600"})
    headers = {"Retry-After": "60"} if outcome.status == 503 else None
    return fail(MESSAGES.get(outcome.status, "Webhook refused"), outcome.status, headers=headers)
