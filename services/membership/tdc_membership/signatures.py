"""HMAC checks: Patreon's webhook signature, and our own signed download links."""

from __future__ import annotations

import hashlib
import hmac
import time


def patreon_signature(secret: str, body: bytes) -> str:
    """Patreon's `X-Patreon-Signature`: the hex HMAC-MD5 of the raw body, keyed with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.md5).hexdigest()


def patreon_signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    if not secret or not signature:
        return False
    # Constant time; the header is compared as lower-case hex, the form Patreon sends.
    return hmac.compare_digest(patreon_signature(secret, body), signature.strip().lower())


def _download_mac(secret: str, item_id: int, file_key: str, expires: int) -> str:
    message = f"download:{item_id}:{file_key}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def download_query(secret: str, item_id: int, file_key: str, ttl: int, now: float | None = None) -> dict[str, str]:
    """`expires` and `signature` for a link to an item's file; the key is in the MAC, so a
    replaced file makes every older link invalid."""
    expires = int((now if now is not None else time.time()) + ttl)
    return {"expires": str(expires), "signature": _download_mac(secret, item_id, file_key, expires)}


def download_ok(secret: str, item_id: int, file_key: str, expires: int, signature: str) -> bool:
    return hmac.compare_digest(_download_mac(secret, item_id, file_key, expires), signature.strip().lower())
