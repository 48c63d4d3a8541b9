"""The gateway's own error answers (envelope bodies built once) and how they are sent."""

from __future__ import annotations

from starlette.types import Send

from tdc_shared.envelope import envelope_bytes

_JSON = (b"content-type", b"application/json")

UNAVAILABLE = envelope_bytes("Service temporarily unavailable")
TIMEOUT = envelope_bytes("Upstream service timed out")
BAD_GATEWAY = envelope_bytes("Bad gateway: the upstream service failed to answer")
TOO_LARGE = envelope_bytes("Request body too large")
RATE_LIMITED = envelope_bytes("Too many requests")
RETRY_LATER = (b"retry-after", b"5")


async def send_error(
    send: Send,
    status: int,
    body: bytes,
    request_id: bytes,
    extra: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode()), (b"x-request-id", request_id), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
