"""Access policies: who may pass a route, decided from the request headers alone.

- public: anyone; a valid bearer token still yields identity headers, an invalid one is
  ignored (the service decides: a stale token must not block login or refresh).
- user / staff / admin: a valid access token (checked against the auth service's JWKS) with
  at least that role; 401 without one, 403 with too small a role.
- sl-signature / webhook-signature: Second Life objects and Patreon sign their requests with
  an HMAC over the body, which only the owning service can check (it holds the secrets and
  must see the exact bytes). The gateway refuses a request without the signature header
  (401) and passes the rest through untouched for the service to verify.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdc_shared.auth import Claims, InvalidToken, TokenVerifier
from tdc_shared.envelope import ApiError, envelope_bytes

IDENTITY_HEADERS = ("x-user-id", "x-user-role", "x-user-patreon-tier", "x-user-patreon-cents")


class Rejected(Exception):
    """The request may not pass; carries the envelope to answer with."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = envelope_bytes(message)
        self.headers = headers

    def as_api_error(self) -> ApiError:
        """The same refusal for the gateway's FastAPI endpoints, whose handlers render ApiError."""
        return ApiError(self.message, status=self.status, headers={k.decode(): v.decode() for k, v in self.headers})


_BEARER_CHALLENGE = ((b"www-authenticate", b"Bearer"),)
_ROLE_REQUIRED = {"user": "user", "staff": "staff", "admin": "admin"}


@dataclass(frozen=True)
class PolicyEnforcer:
    verifier: TokenVerifier
    sl_signature_header: str
    webhook_signature_headers: tuple[str, ...]

    async def check(self, policy: str, authorization: str | None, present: frozenset[str] | set[str]) -> Claims | None:
        """The caller's claims (None when anonymous), or `Rejected`.

        `present` holds the lower-cased names of the request's headers (for signature policies).
        """
        role = _ROLE_REQUIRED.get(policy)
        if role is not None:
            claims = await self._claims(authorization, required=True)
            assert claims is not None
            if not claims.has_role(role):
                raise Rejected(403, f"{role.capitalize()} access required")
            return claims
        if policy == "public":
            try:
                return await self._claims(authorization, required=False)
            except Rejected:
                return None
        if policy == "sl-signature":
            if self.sl_signature_header.lower() not in present:
                raise Rejected(401, f"Missing {self.sl_signature_header} header")
            return None
        if policy == "webhook-signature":
            if not any(h.lower() in present for h in self.webhook_signature_headers):
                raise Rejected(401, "Missing webhook signature header")
            return None
        raise Rejected(500, "Route has an unknown access policy")

    async def _claims(self, authorization: str | None, *, required: bool) -> Claims | None:
        if not authorization:
            if required:
                raise Rejected(401, "Authentication required", _BEARER_CHALLENGE)
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Rejected(401, "Authorization header must be 'Bearer <token>'", _BEARER_CHALLENGE)
        claims = self.verifier.cached(token)
        if claims is not None:
            return claims
        try:
            return await self.verifier.verify(token)
        except InvalidToken as exc:
            raise Rejected(401, str(exc), _BEARER_CHALLENGE) from exc


def identity_headers(claims: Claims) -> list[tuple[str, str]]:
    headers = [("X-User-Id", claims.sub), ("X-User-Role", claims.role)]
    if claims.patreon_tier is not None:
        headers.append(("X-User-Patreon-Tier", claims.patreon_tier))
    if claims.patreon_cents is not None:
        headers.append(("X-User-Patreon-Cents", str(claims.patreon_cents)))
    return headers
