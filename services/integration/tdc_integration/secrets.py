"""Secrets at rest (the admin-set Facebook token, Second Life object secrets): Fernet, with
the key from TDC_INTEGRATION_SECRET_KEY. The database never holds them in clear."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, ciphertext: str) -> str | None:
        """The secret, or None when it was sealed with another key (rotated away)."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except (InvalidToken, ValueError):
            return None
