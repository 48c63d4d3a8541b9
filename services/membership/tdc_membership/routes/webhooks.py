"""POST /api/v1/webhooks/patreon: Patreon's signed deliveries (see ../webhooks.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tdc_shared.envelope import ApiError, fail, ok

from ..webhooks import WebhookIntake

router = APIRouter(prefix="/api/v1/webhooks/patreon", tags=["webhooks"])

MESSAGES = {
    401: "Invalid webhook signature",
    503: "Webhook could not be processed now; deliver it again later",
}


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


@router.post("", summary="A Patreon webhook delivery (X-Patreon-Signature: hex HMAC-MD5 of the body)")
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
