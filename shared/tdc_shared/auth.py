"""Verifying access tokens issued by the auth service, and FastAPI dependencies over them.

The gateway checks every token; each service checks it again with this same code (defence
in depth) before its own fine-grained authorization. Keys come from the auth service's
JWKS, cached; an unknown `kid` triggers at most one refetch per cooldown, and while auth is
unreachable the keys already cached keep working.

Only asymmetric algorithms are accepted, so neither `alg: none` nor an HS256 token "signed"
with the public key can pass; `exp`, `iat`, `iss`, `aud`, `sub` and `jti` are required, and
the header's `alg` must fit the type of the key its `kid` names (an ES256 header naming an
RSA key is refused, not a crash).

Revocation: a token also dies before `exp` when auth says so. Every verifier holds a small
`Revocations` set (revoked sessions, and per user a not-before time) that the event bus fills
from the broadcast event `auth.tokens.revoked` in every process (see
`tdc_shared.events.revocations`), so no request costs a call to auth. A process cut off from
the broker misses revocations sent meanwhile: for those the token's own lifetime (auth's
access-token TTL, 15 minutes by default) bounds the window.
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
# The JWK key type each algorithm needs: anything else is a forged or broken header.
KEY_TYPE_FOR_ALGORITHM: dict[str, str] = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
# How long a revocation is remembered: longer than any access token lives (auth's TTL, 900 s).
REVOCATION_RETENTION_SECONDS = 3600.0
# A bound on what a process holds; past it the oldest entries go first (they are the nearest to
# being moot, since the tokens they refuse expire first).
MAX_REVOCATIONS = 100_000
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


class Revocations:
    """Sessions and users whose older access tokens are refused, each for a retention period.

    - a session id: every token carrying it as `sid` is refused (logout, session ended);
    - a user id with a not-before time: every token of that user issued (`iat`) before it is
      refused (role change, account disabled). Tokens issued after it pass.
    Entries are dropped `retention` seconds after they arrive; set it above the access-token
    lifetime, since a token older than that has expired anyway.
    """

    def __init__(self, *, retention: float = REVOCATION_RETENTION_SECONDS, max_entries: int = MAX_REVOCATIONS) -> None:
        self.retention = retention
        self.max_entries = max_entries
        self._sessions: OrderedDict[str, float] = OrderedDict()  # sid -> forget at (monotonic)
        self._users: OrderedDict[str, tuple[float, float]] = OrderedDict()  # sub -> (not_before, forget at)
        # Bumped on every change, so a cache can tell that what it checked is no longer current.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._sessions) + len(self._users)

    def revoke(self, *, user_id: int | str, session_id: str | None = None, not_before: float | None = None) -> None:
        forget_at = time.monotonic() + self.retention
        if session_id:
            self._sessions.pop(session_id, None)
            self._sessions[session_id] = forget_at
        if not_before is not None:
            key = str(user_id)
            previous = self._users.pop(key, None)
            latest = max(not_before, previous[0]) if previous else not_before
            self._users[key] = (latest, forget_at)
        self.generation += 1
        self._trim()

    def refuses(self, claims: Claims) -> bool:
        now = time.monotonic()
        sid = claims.raw.get("sid")
        if isinstance(sid, str):
            forget_at = self._sessions.get(sid)
            if forget_at is not None:
                if forget_at > now:
                    return True
                self._sessions.pop(sid, None)
        entry = self._users.get(claims.sub)
        if entry is not None:
            not_before, forget_at = entry
            if forget_at <= now:
                self._users.pop(claims.sub, None)
            elif float(claims.raw.get("iat", 0)) < not_before:
                return True
        return False

    def _trim(self) -> None:
        """Drop what has outlived its retention, then the oldest entries past the bound."""
        now = time.monotonic()
        while self._sessions and (next(iter(self._sessions.values())) <= now or len(self) > self.max_entries):
            self._sessions.popitem(last=False)
        while self._users and (next(iter(self._users.values()))[1] <= now or len(self) > self.max_entries):
            self._users.popitem(last=False)


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
        revocations: Revocations | None = None,
    ) -> None:
        unknown = set(algorithms) - set(ALLOWED_ALGORITHMS)
        if unknown:
            raise ValueError(f"only asymmetric algorithms are allowed, not {sorted(unknown)}")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.leeway = leeway
        self.revocations = revocations if revocations is not None else Revocations()
        self._cache: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size

    def cached(self, token: str) -> Claims | None:
        """The claims of a token verified before, if it still holds (not expired, not revoked).

        A revoked token is dropped from the cache, so `verify` then refuses it.
        """
        claims = self._cache.get(token)
        if claims is None:
            return None
        if claims.exp + self.leeway <= time.time() or (len(self.revocations) and self.revocations.refuses(claims)):
            self._cache.pop(token, None)
            return None
        return claims

    def forget_cached(self) -> None:
        """Check every token afresh (after revocations may have been missed)."""
        self._cache.clear()

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
        if key.key_type != KEY_TYPE_FOR_ALGORITHM[algorithm]:
            # PyJWT would raise TypeError deep inside; an alg that does not fit the key is simply invalid.
            raise InvalidToken("Token algorithm does not match its key")
        claims = self._decode(token, key, algorithm)
        if self.revocations.refuses(claims):
            raise InvalidToken("Token has been revoked")
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
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            # TypeError/ValueError: a key the algorithm cannot use, should one slip past the type check.
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


async def _verified_or_refusal(request: Request) -> Claims | InvalidToken | None:
    """The caller's claims, why their token failed, or None without one (once per request)."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        return exc


async def _optional_user(
    outcome: Annotated[Claims | InvalidToken | None, Depends(_verified_or_refusal)],
) -> Claims | None:
    """Public routes: a token that fails (expired, revoked, forged) means no identity, as at the
    gateway; it must not stop a sign-out or a refresh."""
    return outcome if isinstance(outcome, Claims) else None


async def _current_user(outcome: Annotated[Claims | InvalidToken | None, Depends(_verified_or_refusal)]) -> Claims:
    if isinstance(outcome, InvalidToken):
        raise Unauthorized(str(outcome))
    if outcome is None:
        raise Unauthorized()
    return outcome


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
