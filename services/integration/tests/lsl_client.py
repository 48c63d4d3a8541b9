"""A simulated in-world object: what `llHTTPRequest` sends, signed as the LSL snippet signs.

    string body = llList2Json(JSON_OBJECT, [...]);          // compact JSON
    string ts = (string)llGetUnixTime();
    string nonce = llGetSubString((string)llGenerateKey(), 0, 31);
    string sig = llHMAC(SECRET, "POST\\n" + path + "\\n" + ts + "\\n" + nonce + "\\n" + body, "sha256");
    llHTTPRequest(BASE + path, [HTTP_METHOD, "POST", HTTP_CUSTOM_HEADER, "X-SL-Object", OBJECT_ID, ...], body);

The simulator adds its own headers (shard, region, owner and object keys, user agent) and
sends the body as `text/plain;charset=utf-8` unless the script asks for another type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx2

DEFAULT_MIMETYPE = "text/plain;charset=utf-8"


def ll_hmac(private_key: str, message: str, algorithm: str = "sha256") -> str:
    """LSL's llHMAC: the key and the message as UTF-8, the digest as base64."""
    return base64.b64encode(
        hmac.new(private_key.encode(), message.encode(), getattr(hashlib, algorithm)).digest()
    ).decode()


def ll_list2json(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


class LslObject:
    def __init__(
        self,
        client: httpx2.AsyncClient,
        object_id: str,
        secret: str,
        *,
        owner_key: str,
        object_key: str | None = None,
        shard: str = "Production",
        name: str = "TDC Board",
    ) -> None:
        self.client = client
        self.object_id = object_id
        self.secret = secret
        self.owner_key = owner_key
        self.object_key = object_key or str(uuid.uuid4())
        self.shard = shard
        self.name = name

    def simulator_headers(self) -> dict[str, str]:
        return {
            "User-Agent": "Second Life LSL/2026-11-20.12345678 (http://secondlife.com)",
            "X-SecondLife-Shard": self.shard,
            "X-SecondLife-Region": "Dreamer Isle (256000, 256000)",
            "X-SecondLife-Owner-Name": "Cave Owner",
            "X-SecondLife-Owner-Key": self.owner_key,
            "X-SecondLife-Object-Name": self.name,
            "X-SecondLife-Object-Key": self.object_key,
            "X-SecondLife-Local-Position": "(128.000000, 128.000000, 25.000000)",
            "X-SecondLife-Local-Rotation": "(0.000000, 0.000000, 0.000000, 1.000000)",
            "X-SecondLife-Local-Velocity": "(0.000000, 0.000000, 0.000000)",
            "Pragma": "no-cache",
            "Accept-Encoding": "deflate, gzip",
        }

    def signed_headers(
        self,
        method: str,
        path_and_query: str,
        body: str | bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce if nonce is not None else uuid.uuid4().hex
        if isinstance(body, bytes):  # not text at all: what a broken script might send
            message = f"{method}\n{path_and_query}\n{ts}\n{nonce}\n".encode() + body
            digest = hmac.new(self.secret.encode(), message, hashlib.sha256).digest()
            signature = base64.b64encode(digest).decode()
        else:
            signature = ll_hmac(self.secret, f"{method}\n{path_and_query}\n{ts}\n{nonce}\n{body}")
        return {"X-SL-Object": self.object_id, "X-SL-Timestamp": ts, "X-SL-Nonce": nonce, "X-SL-Signature": signature}

    async def request(
        self,
        method: str,
        path_and_query: str,
        body: dict[str, Any] | str | bytes = "",
        *,
        mimetype: str = DEFAULT_MIMETYPE,
        override: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
        **signing: Any,
    ) -> httpx2.Response:
        if isinstance(body, dict):
            body = ll_list2json(body)
        headers = {**self.simulator_headers(), **self.signed_headers(method, path_and_query, body, **signing)}
        if method != "GET":
            headers["Content-Type"] = mimetype
        headers.update(override or {})
        for name in drop:
            headers.pop(name, None)
        content = body if isinstance(body, bytes) else body.encode()
        return await self.client.request(method, path_and_query, content=content or None, headers=headers)

    async def get(self, path_and_query: str, **kwargs: Any) -> httpx2.Response:
        return await self.request("GET", path_and_query, **kwargs)

    async def post(self, path: str, body: dict[str, Any] | str | bytes, **kwargs: Any) -> httpx2.Response:
        return await self.request("POST", path, body, **kwargs)
