"""`POST /api/v1/notifications/unsubscribe?token=...`: one-click unsubscribe (RFC 8058).

No sign-in: the signed token in the link is the authorization. Mail clients POST
`List-Unsubscribe=One-Click` as the body; the body is not needed and not read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tdc_shared.envelope import BadRequest, ok

from ..deps import Db, Notify
from ..queries import preferences
from ..unsubscribe import BadToken, read_token

router = APIRouter(prefix="/api/v1/notifications", tags=["unsubscribe"])

# What mail clients send (RFC 8058), declared for readers of the OpenAPI; the route never reads it.
ONE_CLICK_BODY = {
    "requestBody": {
        "required": False,
        "description": "RFC 8058: mail clients send `List-Unsubscribe=One-Click`. It is not read: the token decides.",
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                },
                "example": {"List-Unsubscribe": "One-Click"},
            }
        },
    }
}


@router.post(
    "/unsubscribe", summary="One-click unsubscribe with the signed link from a mail", openapi_extra=ONE_CLICK_BODY
)
async def unsubscribe(
    token: Annotated[str, Query(min_length=1, max_length=200, description="The token from the mail's link")],
    db: Db,
    notifier: Notify,
) -> JSONResponse:
    try:
        request = read_token(notifier.settings.notification_unsubscribe_secret, token, notifier.clock.now())
    except BadToken as exc:
        raise BadRequest(str(exc), errors={"token": [str(exc)]}) from exc
    async with db.transaction() as tx:
        await preferences.unsubscribe(tx, request.user_id, request.topic)
    return ok({"unsubscribed": request.topic})
