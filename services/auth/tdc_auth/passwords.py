"""Password policy and hashing (argon2id).

Policy after NIST SP 800-63B: at least 8 characters, up to 1,024 (no truncation), any
Unicode (NFKC-normalised so the same password typed on two keyboards matches), no
composition rules, and the 10,000 most common passwords refused.
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool

MIN_LENGTH = 8
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("tdc_auth").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def policy_problems(password: str) -> list[str]:
    """What is wrong with a new password, as messages for the `password` field (empty: fine)."""
    password = normalize(password)
    if len(password) < MIN_LENGTH:
        return [f"must be at least {MIN_LENGTH} characters"]
    if len(password) > MAX_LENGTH:
        return [f"must be at most {MAX_LENGTH} characters"]
    if password.lower() in common_passwords():
        return ["is too common; choose a less guessable password"]
    return []


class Passwords:
    """Hashing off the event loop: argon2 takes tens of milliseconds of CPU by design."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int = 4) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Each hash holds `memory_kib` of RAM: a burst of sign-ins queues here instead of
        # multiplying that by the thread pool's size (40) and starving the CPU for everything else.
        self._slots = asyncio.Semaphore(concurrency)
        # Verified when the account is unknown, so that answer takes as long as a wrong password.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await run_in_threadpool(self.hasher.hash, normalize(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._slots:
            return await run_in_threadpool(self._verify, password_hash, normalize(password))

    def _verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            try:
                self.hasher.verify(self._dummy_hash, password)
            except VerificationError:
                pass
            return False
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)
