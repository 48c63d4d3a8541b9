"""Every /api/v1/sl request is signed by the object that sends it.

    X-SL-Object: <object id>          X-SL-Timestamp: <llGetUnixTime()>
    X-SL-Nonce: <1-32 characters>     X-SL-Signature: base64(HMAC-SHA256(secret, message))
    message = METHOD + "\\n" + PATH_AND_QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + BODY

`llHMAC(secret, message, "sha256")` returns exactly that base64. The X-SecondLife-* headers the
simulator adds prove nothing alone (anyone can send them); they are checked after the
signature, against what the admin registered. Refusals are 401 with a reason short enough for
a script to say in chat; the per-object rate limit is 429 with `retry_after` in the body, since a
script cannot read response headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from tdc_shared.db import Database, Session
from tdc_shared.envelope import ApiError

from ..queries import sl as sl_queries
from ..secrets import SecretBox
from ..settings import IntegrationSettings
from ..timefmt import utc_now

PURPOSES = ("board", "checkin", "counter", "linker")
MAX_NONCE = 32
# last_seen_at is for admins: written at most this often, not on every request.
LAST_SEEN_EVERY = timedelta(seconds=60)
_SECRET_CACHE_LIMIT = 10_000


class Refused(ApiError):
    status, message = 401, "refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, headers={"WWW-Authenticate": "SL-HMAC"})


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = max(1, retry_after)


async def rate_limited_answer(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    body = {"success": False, "error": "rate limited", "retry_after": exc.retry_after}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(exc.retry_after)})


def message_to_sign(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path_and_query}\n{timestamp}\n{nonce}\n".encode() + body


def signature(secret: str, message: bytes) -> str:
    """What llHMAC(secret, message, "sha256") returns."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def path_and_query(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def _is_uuid(value: str | None) -> bool:
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


@dataclass(frozen=True)
class SignedObject:
    id: str
    purpose: str
    location: str
    owner_key: str
    body: bytes


class Verifier:
    def __init__(self, settings: IntegrationSettings, box: SecretBox) -> None:
        self.settings = settings
        self.box = box
        self._secrets: dict[str, str | None] = {}

    def _open(self, ciphertext: str) -> str | None:
        # Decrypting costs more than the HMAC: remember plaintexts per ciphertext (a rotation
        # makes a new ciphertext, so nothing stale is ever used).
        if ciphertext not in self._secrets:
            if len(self._secrets) > _SECRET_CACHE_LIMIT:
                self._secrets.clear()
            self._secrets[ciphertext] = self.box.open(ciphertext)
        return self._secrets[ciphertext]

    def _valid_secrets(self, row: dict[str, Any]) -> list[str]:
        found = [self._open(row["secret_ciphertext"])]
        until = row["previous_valid_until"]
        if row["previous_secret_ciphertext"] and until is not None and until > utc_now():
            found.append(self._open(row["previous_secret_ciphertext"]))
        return [s for s in found if s]

    async def verify(self, request: Request, purpose: str) -> SignedObject:
        db: Database = request.app.state.db
        headers = request.headers
        object_id = headers.get("x-sl-object")
        timestamp = headers.get("x-sl-timestamp")
        nonce = headers.get("x-sl-nonce")
        given = headers.get("x-sl-signature")
        if not (object_id and timestamp and nonce and given):
            raise Refused("missing signature headers")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise Refused("bad timestamp")
        if abs(time.time() - int(timestamp)) > self.settings.integration_sl_window_seconds:
            raise Refused("timestamp too far from now")
        if len(nonce) > MAX_NONCE or not nonce.isascii() or not nonce.isprintable():
            raise Refused("bad nonce")
        if len(object_id) > 32:
            raise Refused("unknown object")
        body = await request.body()
        message = message_to_sign(request.method, path_and_query(request), timestamp, nonce, body)
        try:
            given_digest = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError):
            raise Refused("bad signature") from None
        # One transaction for the lookup and the admission: four round trips in all, the
        # fewest that still let every replica agree on revocations, replays and the rate.
        async with db.transaction() as tx:
            row = await sl_queries.find_object(tx, object_id)
            if row is None:
                raise Refused("unknown object")
            if row["revoked_at"] is not None:
                raise Refused("object revoked")
            if not any(
                hmac.compare_digest(given_digest, hmac.new(s.encode(), message, hashlib.sha256).digest())
                for s in self._valid_secrets(row)
            ):
                raise Refused("bad signature")
            if headers.get("x-secondlife-shard") != self.settings.integration_sl_shard:
                raise Refused("wrong grid")
            if (headers.get("x-secondlife-owner-key") or "").lower() != row["owner_key"].lower():
                raise Refused("owner key mismatch")
            object_key = (headers.get("x-secondlife-object-key") or "").lower()
            if not _is_uuid(object_key) or (row["object_key"] and object_key != row["object_key"].lower()):
                raise Refused("object key mismatch")
            if row["purpose"] != purpose:
                raise Refused("purpose not allowed")
            await self._admit(tx, row, nonce, object_key)
        return SignedObject(row["id"], row["purpose"], row["location_slug"], row["owner_key"], body)

    async def _admit(self, tx: Session, row: dict[str, Any], nonce: str, object_key: str) -> None:
        """Rate limit, replay check and key binding, in the transaction every replica sees."""
        period = self.settings.integration_sl_rate_period_seconds
        count, oldest = await sl_queries.recent_requests(tx, row["id"], period)
        if count >= self.settings.integration_sl_rate_limit:
            free_at = (oldest or utc_now()) + timedelta(seconds=period)
            raise RateLimited(math.ceil((free_at - utc_now()).total_seconds()))
        if not await sl_queries.remember_nonce(tx, row["id"], nonce):
            raise Refused("nonce already used")
        if row["object_key"] is None and not await sl_queries.bind_object_key(tx, row["id"], object_key):
            bound = await sl_queries.find_object(tx, row["id"])
            if bound is None or (bound["object_key"] or "").lower() != object_key:
                raise Refused("object key mismatch")
        last_seen = row["last_seen_at"]
        if last_seen is None or utc_now() - last_seen > LAST_SEEN_EVERY:
            await sl_queries.seen(tx, row["id"])


def signed_by(purpose: str) -> Any:
    async def dependency(request: Request) -> SignedObject:
        verifier: Verifier = request.app.state.sl_verifier
        return await verifier.verify(request, purpose)

    return Depends(dependency)


BoardObject = Annotated[SignedObject, signed_by("board")]
CheckinObject = Annotated[SignedObject, signed_by("checkin")]
CounterObject = Annotated[SignedObject, signed_by("counter")]
LinkerObject = Annotated[SignedObject, signed_by("linker")]
