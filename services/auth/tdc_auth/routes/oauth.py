"""`/api/v1/auth/oauth/{provider}/login` and `/callback`.

After the callback the browser is redirected (303) to `auth_frontend_url` with the refresh
token in its HttpOnly cookie; the frontend then calls `POST /api/v1/auth/refresh` for an
access token. Failures redirect there too, with `?error=<code>`. A client that started with
`/login?mode=json` instead gets the login answer (tokens and user) as JSON from the callback,
and errors in the envelope.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Literal
from urllib.parse import urlencode

from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from mysql.connector import errors as mysql_errors

from tdc_shared.auth import TokenVerifier
from tdc_shared.db import Row, Session
from tdc_shared.deps import Db
from tdc_shared.envelope import ApiError, BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from tdc_shared.events import publish

from .. import sessions
from ..bootstrap import username_from
from ..context import Auth, Client
from ..models import normalize_email, user_event
from ..oauth import Identity, OAuthProviders
from ..queries import oauth_accounts, users
from ..revocation import end_sessions, end_tokens_of_user
from ..settings import AuthSettings

log = logging.getLogger(__name__)
# Security-relevant account changes, for the operator's audit trail (one logger to route).
audit = logging.getLogger("tdc.audit")

router = APIRouter(prefix="/api/v1/auth/oauth", tags=["oauth"])

MODE_KEY = "tdc_oauth_mode"


def _client(request: Request, provider: str):  # type: ignore[no-untyped-def]
    providers: OAuthProviders = request.app.state.oauth
    client = providers.client(provider)
    if client is None:
        raise NotFound("Unknown or unconfigured sign-in provider")
    return providers, client


def _callback_url(provider: str, settings: AuthSettings) -> str:
    """The callback as the browser reaches it: from the configured public URL only. Headers such as
    X-Forwarded-Host come from the client (the gateway fills it from the caller's Host), and a
    callback built from them would send the provider's code to whoever wrote them."""
    return f"{settings.auth_public_url.rstrip('/')}/api/v1/auth/oauth/{provider}/callback"


@router.get("/{provider}/login", summary="Start signing in with google, discord or facebook (redirects)")
async def oauth_login(
    provider: str,
    request: Request,
    ctx: Auth,
    mode: Annotated[Literal["redirect", "json"], Query(description="How the callback answers")] = "redirect",
) -> Response:
    _, client = _client(request, provider)
    request.session[MODE_KEY] = mode
    return await client.authorize_redirect(request, _callback_url(provider, ctx.settings))


async def _new_username(tx: Session, identity: Identity) -> str:
    base = username_from(identity.email or f"{identity.provider}{identity.subject}@x")
    for attempt in range(10):
        candidate = base if attempt == 0 else f"{base[:24]}{secrets.randbelow(10**6):06d}"
        if await users.by_username(tx, candidate) is None:
            return candidate
    raise Conflict("Could not choose a username; try again")


async def _take_over_unverified(tx: Session, verifier: TokenVerifier | None, user: Row, identity: Identity) -> Row:
    """The provider proves who owns the address; the local account never did. Whoever registered it
    (perhaps an attacker who got there first, to wait for the owner to link) loses it: its password
    goes, its sessions and their tokens end, and the address counts as verified from now on."""
    user_id = int(user["id"])
    had_password = user["password_hash"] is not None
    await users.update(tx, user_id, {"password_hash": None, "email_verified": True})
    ended = await end_sessions(tx, verifier, "account_taken_over", user_id=user_id)
    await end_tokens_of_user(tx, verifier, user_id)
    audit.warning(
        "unverified account taken over by its email's verified provider owner",
        extra={
            "audit": "account_taken_over",
            "user_id": user_id,
            "provider": identity.provider,
            "password_removed": had_password,
            "sessions_ended": len(ended),
        },
    )
    taken = await users.by_id(tx, user_id)
    assert taken is not None
    await publish(tx, "auth.user.updated", user_event(taken), source="auth")
    return taken


async def resolve_account(tx: Session, identity: Identity, verifier: TokenVerifier | None = None) -> Row:
    """The account this provider identity signs into: already linked, linked now by a verified email, or new."""
    linked = await oauth_accounts.by_subject(tx, identity.provider, identity.subject)
    if linked is not None:
        user = await users.by_id(tx, int(linked["user_id"]))
        assert user is not None
        return user
    if not identity.email:
        raise Unprocessable(
            "The provider did not share an email address", errors={"email": ["permission to read it is required"]}
        )
    try:
        email = normalize_email(identity.email)
    except ValueError as exc:
        raise Unprocessable(
            "The provider shared an unusable email address", errors={"email": ["is not a valid email address"]}
        ) from exc
    user = await users.by_email(tx, email)
    if user is not None:
        if not identity.email_verified:
            # An unverified address proves nothing: linking on it would hand the account to whoever typed it.
            raise Conflict(
                "An account with this email exists; sign in with your password "
                "(the provider has not verified this address)"
            )
        await oauth_accounts.link(
            tx, user_id=int(user["id"]), provider=identity.provider, subject=identity.subject, email=email
        )
        if not user["email_verified"]:
            user = await _take_over_unverified(tx, verifier, user, identity)
        return user
    username = await _new_username(tx, identity)
    user_id = await users.insert(
        tx,
        email=email,
        username=username,
        password_hash=None,
        email_verified=identity.email_verified,
        display_name=(identity.name or None) and identity.name[:100],
    )
    await oauth_accounts.link(tx, user_id=user_id, provider=identity.provider, subject=identity.subject, email=email)
    await publish(
        tx,
        "auth.user.registered",
        {"user_id": user_id, "email": email, "username": username, "language": "en"},
        source="auth",
    )
    user = await users.by_id(tx, user_id)
    assert user is not None
    return user


@router.get("/{provider}/callback", name="oauth_callback", summary="Where the provider sends the browser back")
async def oauth_callback(provider: str, request: Request, ctx: Auth, db: Db, caller: Client) -> Response:
    providers, client = _client(request, provider)
    mode = request.session.pop(MODE_KEY, "redirect")
    try:
        pair = await _sign_in(request, provider, providers, client, ctx, db, caller)
    except ApiError as exc:
        if mode == "json":
            raise
        return _redirect(ctx.settings.auth_frontend_url, {"error": _error_code(exc)})
    if mode == "json":
        return sessions.token_response(ctx, pair)
    response = _redirect(ctx.settings.auth_frontend_url, {})
    sessions.set_refresh_cookie(response, pair["refresh_token"], pair["refresh_expires_in"])
    return response


async def _sign_in(request, provider, providers, client, ctx, db, caller):  # type: ignore[no-untyped-def]
    try:
        token = await client.authorize_access_token(request)
        identity = await providers.identity(provider, client, token)
    except (OAuthError, KeyError, ValueError) as exc:
        log.info("oauth callback refused", extra={"provider": provider, "reason": str(exc)})
        raise BadRequest("Sign-in with the provider failed; start again") from exc
    except Exception as exc:  # the provider is down or answered garbage
        log.warning("oauth provider error", extra={"provider": provider, "reason": repr(exc)})
        raise ApiError("The sign-in provider could not be reached", status=502) from exc
    try:
        async with db.transaction() as tx:
            user = await resolve_account(tx, identity, ctx.verifier)
            if not user["is_active"]:
                raise Forbidden("This account has been disabled")
            return await sessions.start(tx, ctx, user, caller)
    except mysql_errors.IntegrityError as exc:  # the same identity finished twice at once
        raise Conflict("Sign-in already in progress; try again") from exc


def _error_code(exc: ApiError) -> str:
    return {400: "oauth_failed", 403: "account_disabled", 409: "email_in_use", 422: "email_required"}.get(
        exc.status, "provider_unavailable"
    )


def _redirect(url: str, params: dict[str, str]) -> RedirectResponse:
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    return RedirectResponse(url, status_code=303)
