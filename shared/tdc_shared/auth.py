"""Verifying access tokens issued by the auth service, and FastAPI dependencies over them.

The gateway checks every token; each service checks it again with this same code (defence
in depth) before its own fine-grained authorization. Keys come from the auth service's
JWKS, cached; an unknown `kid` triggers at most one refetch per cooldown, and while auth is
unreachable the keys already cached keep working.

Only asymmetric algorithms are accepted, so neither `alg: none` nor an HS256 token "signed"
with the public key can pass; `exp`, `iat`, `iss`, `aud`, `sub` and `jti` are required.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx2
import jwt
from fastapi import Depends, Request

from .envelope import Forbidden, Unauthorized

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
ROLES: tuple[str, ...] = ("user", "staff", "admin")
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]


class InvalidToken(Exception):
    """The token is not one we accept; the message is safe to show to the client."""


@dataclass(frozen=True)
class Claims:
    sub: str
    role: str
    jti: str
    exp: int
    # The caller's Patreon standing, from membership's events via auth: both None for a
    # non-supporter. Gates compare amounts in cents, never tier ids.
    patreon_tier: str | None = None
    patreon_cents: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def user_id(self) -> int:
        return int(self.sub)

    def has_role(self, minimum: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(minimum)


JwksFetcher = Callable[[], Coroutine[Any, Any, dict[str, Any]]]


class KeySet:
    """The auth service's public keys by `kid`, refreshed lazily."""

    def __init__(self, fetch: JwksFetcher, *, max_age: float = 300.0, refetch_cooldown: float = 30.0) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self.refetch_cooldown = refetch_cooldown
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 2.0, **kwargs: Any) -> KeySet:
        async def fetch() -> dict[str, Any]:
            async with httpx2.AsyncClient(timeout=timeout) as client:
                response = await client.get(url)
                response.raise_for_status()
                body = response.json()
                # The auth service answers in the envelope; a bare JWKS is accepted too.
                keys: dict[str, Any] = body.get("data", body) if isinstance(body, dict) and "keys" not in body else body
                return keys

        return cls(fetch, **kwargs)

    @classmethod
    def static(cls, jwks: dict[str, Any]) -> KeySet:
        async def fetch() -> dict[str, Any]:
            return jwks

        return cls(fetch)

    def cached(self, kid: str) -> jwt.PyJWK | None:
        """The key for `kid` if we hold it and it is fresh enough to use without I/O."""
        if time.monotonic() - self._fetched_at > self.max_age:
            return None
        return self._keys.get(kid)

    async def get(self, kid: str) -> jwt.PyJWK:
        key = self.cached(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self.cached(kid)
            if key is not None:
                return key
            stale = time.monotonic() - self._fetched_at > self.max_age
            if stale or time.monotonic() - self._last_attempt >= self.refetch_cooldown:
                await self._refresh()
            key = self._keys.get(kid)
            if key is None:
                raise InvalidToken("Unknown signing key")
            return key

    async def _refresh(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            document = await self._fetch()
        except Exception as exc:  # auth down: keep serving with the keys we have
            log.warning("could not fetch JWKS, keeping %d cached keys: %s", len(self._keys), exc)
            return
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in document.get("keys", []):
            kid = jwk.get("kid")
            if not kid or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = jwt.PyJWK(jwk)
            except jwt.PyJWTError as exc:
                log.warning("ignoring unusable JWK %s: %s", kid, exc)
        self._keys = keys
        self._fetched_at = time.monotonic()


class TokenVerifier:
    """Checks access tokens; verified tokens are remembered until they expire."""

    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS,
        leeway: int = 5,
        cache_size: int = 10_000,
    ) -> None:
        unknown = set(algorithms) - set(ALLOWED_ALGORITHMS)
        if unknown:
            raise ValueError(f"only asymmetric algorithms are allowed, not {sorted(unknown)}")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.leeway = leeway
        self._cache: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size

    def cached(self, token: str) -> Claims | None:
        claims = self._cache.get(token)
        if claims is None:
            return None
        if claims.exp + self.leeway <= time.time():
            self._cache.pop(token, None)
            return None
        return claims

    async def verify(self, token: str) -> Claims:
        claims = self.cached(token)
        if claims is not None:
            return claims
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("Malformed token") from exc
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise InvalidToken("Token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("Token has no key id")
        key = await self.keys.get(kid)
        claims = self._decode(token, key, algorithm)
        self._remember(token, claims)
        return claims

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> Claims:
        try:
            payload = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("Invalid token") from exc
        role = payload.get("role", "user")
        if role not in ROLES:
            raise InvalidToken("Invalid token")
        if payload.get("typ", "access") != "access":
            raise InvalidToken("Not an access token")
        tier = payload.get("patreon_tier")
        cents = payload.get("patreon_cents")
        if cents is not None and (isinstance(cents, bool) or not isinstance(cents, int) or cents < 0):
            raise InvalidToken("Invalid token")
        return Claims(
            sub=str(payload["sub"]),
            role=role,
            jti=str(payload["jti"]),
            exp=int(payload["exp"]),
            patreon_tier=str(tier) if tier is not None else None,
            patreon_cents=cents,
            raw=payload,
        )

    def _remember(self, token: str, claims: Claims) -> None:
        self._cache[token] = claims
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


async def _optional_user(request: Request) -> Claims | None:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc


async def _current_user(user: Annotated[Claims | None, Depends(_optional_user)]) -> Claims:
    if user is None:
        raise Unauthorized()
    return user


def require_role(minimum: str) -> Callable[..., Coroutine[Any, Any, Claims]]:
    if minimum not in ROLES:
        raise ValueError(f"unknown role {minimum!r}")

    async def dependency(user: Annotated[Claims, Depends(_current_user)]) -> Claims:
        if not user.has_role(minimum):
            raise Forbidden(f"{minimum.capitalize()} access required")
        return user

    return dependency


OptionalUser = Annotated[Claims | None, Depends(_optional_user)]
CurrentUser = Annotated[Claims, Depends(_current_user)]
StaffUser = Annotated[Claims, Depends(require_role("staff"))]
AdminUser = Annotated[Claims, Depends(require_role("admin"))]
