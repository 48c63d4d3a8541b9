"""CORS for the configured frontend origins, with credentials (the refresh-token cookie).

With credentials the allowed origin must be echoed exactly, never `*`; preflights are
answered here and never reach a service or need a token.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Message, Scope, Send

from tdc_shared.envelope import envelope_bytes

ALLOWED_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
EXPOSED_HEADERS = b"X-Request-Id, Retry-After, Content-Disposition, ETag, Location"
_FORBIDDEN = envelope_bytes("Origin not allowed")


class Cors:
    def __init__(self, origins: Iterable[str], max_age: int) -> None:
        self.origins = frozenset(o.rstrip("/") for o in origins)
        self.max_age = str(max_age).encode()
        self._headers = {
            origin: (
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-expose-headers", EXPOSED_HEADERS),
                (b"vary", b"Origin"),
            )
            for origin in self.origins
        }

    def response_headers(self, origin: str) -> tuple[tuple[bytes, bytes], ...]:
        return self._headers.get(origin, ((b"vary", b"Origin"),))

    def wrap_send(self, scope: Scope, send: Send) -> Send:
        """`send` adding the CORS headers for the request's Origin to the response start."""
        origin = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"origin"), None)
        if origin is None:
            return send
        extra = self.response_headers(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        return send_with_cors

    @staticmethod
    def preflight_request(scope: Scope) -> tuple[str, bytes] | None:
        """(origin, requested headers) when this is a CORS preflight, else None."""
        if scope["method"] != "OPTIONS":
            return None
        origin = None
        method = False
        requested = b""
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"access-control-request-method":
                method = True
            elif name == b"access-control-request-headers":
                requested = value
        if origin is None or not method:
            return None
        return origin, requested

    async def answer_preflight(self, origin: str, requested: bytes, request_id: bytes, send: Send) -> None:
        if origin not in self.origins:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_FORBIDDEN)).encode()),
                (b"x-request-id", request_id),
                (b"vary", b"Origin"),
            ]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": _FORBIDDEN})
            return
        headers = [
            *self._headers[origin][:2],
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-max-age", self.max_age),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            (b"x-request-id", request_id),
        ]
        if requested:
            headers.append((b"access-control-allow-headers", requested))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
