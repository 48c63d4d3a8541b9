"""A local Patreon API v2 for the tests, served over real HTTP on 127.0.0.1.

It speaks the shapes of the samples in `fixtures/`: JSON:API member documents whose
relationships point at `included` users and tiers, attributes only for the `fields[...]` asked
for (as v2 does), cursor pagination that gives `meta.pagination.cursors.next` and, unless told
otherwise, `links.next` (the last page gives neither), Patreon's real 401 and 429 bodies, the
OAuth authorization and token endpoints with PKCE S256, and the identity endpoint.

The tests change its state directly (members, tiers, throttling, failures) and read what it
was asked (`requests`). It runs in a thread of its own, so it serves sync and async tests alike
and the stack's processes in the end-to-end tests.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeMember:
    member_id: str
    user_id: str
    patron_status: str | None = "active_patron"
    tier_ids: list[str] = field(default_factory=list)
    entitled_cents: int = 0
    full_name: str = "Test Patron"
    email: str = "patron@example.com"
    lifetime_support_cents: int = 0
    pledge_relationship_start: str | None = "2023-02-08T16:36:58.615+00:00"
    last_charge_date: str | None = "2023-03-08T08:24:05.000+00:00"
    last_charge_status: str | None = "Paid"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    at: float
    status: int = 0


class FakePatreon:
    def __init__(
        self,
        *,
        campaign_id: str = "9441253",
        creator_token: str = "creator-token",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
    ) -> None:
        self.campaign_id = campaign_id
        self.creator_token = creator_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.campaign_url = f"https://www.patreon.com/campaign-{campaign_id}"
        self.tiers: dict[str, dict[str, Any]] = {}
        self.members: dict[str, FakeMember] = {}
        self.users: dict[str, dict[str, str]] = {}
        self.page_size: int | None = None  # None: the page[count] asked for
        self.links_next = True  # also give the full next-page URL, as docs up to 2020 show
        self.throttle_members: list[int] = []  # retry_after_seconds of 429s still to answer
        self.fail_members_after: int | None = None  # pages served before the list answers 500
        self.fail_status = 500
        self.throttle_later_pages: int | None = None  # 429 (this many seconds) for every page but the first
        self.member_reads_fail = False
        self.login_as: str | None = None  # the Patreon user who "signs in" at /oauth2/authorize
        self.codes: dict[str, dict[str, str]] = {}
        self.member_tokens: dict[str, str] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._pages_served = 0
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- state the tests set -----------------------------------------------------------------

    def add_tier(self, tier_id: str, title: str, amount_cents: int, **attributes: Any) -> None:
        self.tiers[tier_id] = {
            "amount_cents": amount_cents,
            "created_at": "2023-02-08T16:57:40.357+00:00",
            "description": attributes.pop("description", ""),
            "published": attributes.pop("published", True),
            "title": title,
            "url": f"/join/cave/checkout?rid={tier_id}",
            **attributes,
        }

    def add_member(self, member: FakeMember) -> FakeMember:
        with self._lock:
            self.members[member.member_id] = member
            self.users.setdefault(member.user_id, {"full_name": member.full_name, "email": member.email})
        return member

    def new_member(
        self, member_id: str, user_id: str, status: str | None = None, tier_ids: list[str] | None = None, cents: int = 0
    ) -> FakeMember:
        return self.add_member(FakeMember(member_id, user_id, status, list(tier_ids or []), cents))

    def remove_member(self, member_id: str) -> None:
        with self._lock:
            self.members.pop(member_id, None)

    def add_user(self, user_id: str, full_name: str, email: str) -> None:
        self.users[user_id] = {"full_name": full_name, "email": email}

    def seen(self, path_part: str) -> list[Seen]:
        return [r for r in self.requests if path_part in r.path]

    def stack_env(self, public_api_url: str) -> dict[str, str]:
        """The membership settings that point a service at this fake."""
        return {
            "TDC_MEMBERSHIP_PATREON_API_URL": self.url,
            "TDC_MEMBERSHIP_PATREON_CAMPAIGN_ID": self.campaign_id,
            "TDC_MEMBERSHIP_PATREON_ACCESS_TOKEN": self.creator_token,
            "TDC_MEMBERSHIP_PATREON_CLIENT_ID": self.client_id,
            "TDC_MEMBERSHIP_PATREON_CLIENT_SECRET": self.client_secret,
            "TDC_MEMBERSHIP_PATREON_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TDC_MEMBERSHIP_PATREON_REDIRECT_URI": f"{public_api_url}/api/v1/support/patreon/callback",
            "TDC_MEMBERSHIP_RECONCILE_INTERVAL_SECONDS": "0",
        }

    # -- documents ---------------------------------------------------------------------------

    @staticmethod
    def _fields(query: dict[str, str], kind: str) -> set[str]:
        value = query.get(f"fields[{kind}]")
        return set(value.split(",")) if value else set()

    def _tier_resource(self, tier_id: str, query: dict[str, str]) -> dict[str, Any]:
        wanted = self._fields(query, "tier")
        attributes = {k: v for k, v in self.tiers.get(tier_id, {}).items() if k in wanted}
        return {"attributes": attributes, "id": tier_id, "type": "tier"}

    def _user_resource(self, user_id: str, query: dict[str, str]) -> dict[str, Any]:
        wanted = self._fields(query, "user")
        user = self.users.get(user_id, {})
        attributes = {k: v for k, v in {**user, "first_name": user.get("full_name", "").split(" ")[0]}.items()}
        return {
            "attributes": {k: v for k, v in attributes.items() if k in wanted},
            "id": user_id,
            "type": "user",
        }

    def _member_resource(self, member: FakeMember, query: dict[str, str]) -> dict[str, Any]:
        wanted = self._fields(query, "member")
        attributes = {
            "campaign_lifetime_support_cents": member.lifetime_support_cents,
            "currently_entitled_amount_cents": member.entitled_cents,
            "email": member.email,
            "full_name": member.full_name,
            "is_follower": member.patron_status is None,
            "last_charge_date": member.last_charge_date,
            "last_charge_status": member.last_charge_status,
            "lifetime_support_cents": member.lifetime_support_cents,
            "next_charge_date": "2023-04-08T00:00:00.000+00:00" if member.patron_status == "active_patron" else None,
            "note": "",
            "patron_status": member.patron_status,
            "pledge_cadence": 1 if member.patron_status == "active_patron" else None,
            "pledge_relationship_start": member.pledge_relationship_start,
            "will_pay_amount_cents": member.entitled_cents,
        }
        base = "https://www.patreon.com/api/oauth2/v2"
        return {
            "attributes": {k: v for k, v in attributes.items() if k in wanted},
            "id": member.member_id,
            "relationships": {
                "address": {"data": None},
                "campaign": {
                    "data": {"id": self.campaign_id, "type": "campaign"},
                    "links": {"related": f"{base}/campaigns/{self.campaign_id}"},
                },
                "currently_entitled_tiers": {"data": [{"id": t, "type": "tier"} for t in member.tier_ids]},
                "user": {
                    "data": {"id": member.user_id, "type": "user"},
                    "links": {"related": f"{base}/user/{member.user_id}"},
                },
            },
            "type": "member",
        }

    def _included(self, members: list[FakeMember], query: dict[str, str]) -> list[dict[str, Any]]:
        include = set(query.get("include", "").split(","))
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for member in members:
            if "user" in include and ("user", member.user_id) not in seen:
                seen.add(("user", member.user_id))
                out.append(self._user_resource(member.user_id, query))
            if "currently_entitled_tiers" in include:
                for tier_id in member.tier_ids:
                    if ("tier", tier_id) not in seen:
                        seen.add(("tier", tier_id))
                        out.append(self._tier_resource(tier_id, query))
        return out

    def member_document(self, member: FakeMember, query: dict[str, str]) -> dict[str, Any]:
        return {
            "data": self._member_resource(member, query),
            "included": self._included([member], query),
            "links": {"self": f"https://www.patreon.com/api/oauth2/v2/members/{member.member_id}"},
        }

    def webhook_body(self, member_id: str) -> bytes:
        """What Patreon would POST for this member now (every field, as deliveries carry)."""
        return json.dumps(self.member_document(self.members[member_id], EVERY_FIELD)).encode()

    # -- HTTP --------------------------------------------------------------------------------

    def _error(self, name: str, status: int, **changes: Any) -> JSONResponse:
        body = copy.deepcopy(fixture(name))
        body["errors"][0].update(changes)
        return JSONResponse(body, status_code=status)

    def _not_found(self) -> JSONResponse:
        return JSONResponse(
            {
                "errors": [
                    {
                        "code": 3,
                        "code_name": "ResourceMissing",
                        "detail": "The requested resource could not be found.",
                        "id": secrets.token_hex(8),
                        "status": "404",
                        "title": "Resource Missing",
                    }
                ]
            },
            status_code=404,
        )

    def _creator(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.creator_token}"

    async def _campaign(self, request: Request) -> Response:
        if not self._creator(request):
            return self._error("error-401-unauthorized.json", 401)
        query = dict(request.query_params)
        if request.path_params["campaign_id"] != self.campaign_id:
            return self._not_found()
        wanted = self._fields(query, "campaign")
        attributes = {"url": self.campaign_url, "patron_count": len(self.members), "vanity": "cave"}
        tiers = list(self.tiers) if "tiers" in query.get("include", "") else []
        return JSONResponse(
            {
                "data": {
                    "attributes": {k: v for k, v in attributes.items() if k in wanted},
                    "id": self.campaign_id,
                    "relationships": {"tiers": {"data": [{"id": t, "type": "tier"} for t in tiers]}},
                    "type": "campaign",
                },
                "included": [self._tier_resource(t, query) for t in tiers],
                "links": {"self": f"https://www.patreon.com/api/oauth2/v2/campaigns/{self.campaign_id}"},
            }
        )

    async def _members(self, request: Request) -> Response:
        if not self._creator(request):
            return self._error("error-401-unauthorized.json", 401)
        if request.path_params["campaign_id"] != self.campaign_id:
            return self._not_found()
        with self._lock:
            later_page = "page[cursor]" in request.query_params
            if self.throttle_members or (later_page and self.throttle_later_pages is not None):
                pause = self.throttle_members.pop(0) if self.throttle_members else self.throttle_later_pages
                return self._error("error-429-throttled-docs.json", 429, retry_after_seconds=pause)
            if self.fail_members_after is not None and self._pages_served >= self.fail_members_after:
                return JSONResponse({"errors": [{"status": str(self.fail_status), "title": "oops"}]}, self.fail_status)
            self._pages_served += 1
            members = sorted(self.members.values(), key=lambda m: m.member_id)
        query = dict(request.query_params)
        count = self.page_size or int(query.get("page[count]", "1000"))
        cursor = query.get("page[cursor]")
        start = 0
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))
            except ValueError:
                return JSONResponse(
                    {"errors": [{"status": "400", "code_name": "ParameterInvalidOnType", "title": "bad cursor"}]}, 400
                )
        page = members[start : start + count]
        body: dict[str, Any] = {
            "data": [self._member_resource(m, query) for m in page],
            "included": self._included(page, query),
            "meta": {"pagination": {"total": len(members)}},
        }
        if start + count < len(members):
            next_cursor = base64.urlsafe_b64encode(f"offset:{start + count}".encode()).decode()
            body["meta"]["pagination"]["cursors"] = {"next": next_cursor}
            if self.links_next:
                next_query = {**query, "page[cursor]": next_cursor}
                body["links"] = {
                    "next": f"https://www.patreon.com/api/oauth2/v2/campaigns/{self.campaign_id}/members?"
                    + urlencode(next_query)
                }
        return JSONResponse(body)

    async def _member(self, request: Request) -> Response:
        if not self._creator(request):
            return self._error("error-401-unauthorized.json", 401)
        if self.member_reads_fail:
            return JSONResponse({"errors": [{"status": "503", "title": "Service Unavailable"}]}, 503)
        member = self.members.get(request.path_params["member_id"])
        if member is None:
            return self._not_found()
        return JSONResponse(self.member_document(member, dict(request.query_params)))

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        if (
            query.get("client_id") != self.client_id
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or not query.get("redirect_uri")
            or self.login_as is None
        ):
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "user_id": self.login_as,
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
        }
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(target, status_code=302)

    async def _token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        value = {k: v[0] for k, v in form.items()}
        if value.get("client_id") != self.client_id or value.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = self.codes.pop(value.get("code", ""), None)
        if value.get("grant_type") != "authorization_code" or grant is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        if value.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        verifier = value.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
        token = secrets.token_urlsafe(24)
        self.member_tokens[token] = grant["user_id"]
        return JSONResponse(
            {
                "access_token": token,
                "refresh_token": secrets.token_urlsafe(24),
                "expires_in": 2678400,
                "scope": "identity identity[email] identity.memberships",
                "token_type": "Bearer",
            }
        )

    async def _identity(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        user_id = self.member_tokens.get(auth.removeprefix("Bearer "))
        if user_id is None:
            return self._error("error-401-unauthorized.json", 401)
        query = dict(request.query_params)
        memberships = [m for m in self.members.values() if m.user_id == user_id]
        include = set(query.get("include", "").split(","))
        included: list[dict[str, Any]] = []
        if "memberships" in include:
            for member in memberships:
                included.append(self._member_resource(member, query))
                if "memberships.currently_entitled_tiers" in include:
                    included += [self._tier_resource(t, query) for t in member.tier_ids]
        user = self._user_resource(user_id, query)
        user["relationships"] = {"memberships": {"data": [{"id": m.member_id, "type": "member"} for m in memberships]}}
        return JSONResponse(
            {
                "data": user,
                "included": included,
                "links": {"self": f"https://www.patreon.com/api/oauth2/v2/user/{user_id}"},
            }
        )

    def app(self) -> Starlette:
        fake = self

        class Recorder:
            def __init__(self, app: Any) -> None:
                self.app = app

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] != "http":
                    await self.app(scope, receive, send)
                    return
                query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
                seen = Seen(scope["method"], scope["path"], query, time.monotonic())
                fake.requests.append(seen)

                async def recording_send(message: Any) -> None:
                    if message["type"] == "http.response.start":
                        seen.status = message["status"]
                    await send(message)

                await self.app(scope, receive, recording_send)

        app = Starlette(
            routes=[
                Route("/api/oauth2/v2/campaigns/{campaign_id}", self._campaign),
                Route("/api/oauth2/v2/campaigns/{campaign_id}/members", self._members),
                Route("/api/oauth2/v2/members/{member_id}", self._member),
                Route("/api/oauth2/v2/identity", self._identity),
                Route("/oauth2/authorize", self._authorize),
                Route("/api/oauth2/token", self._token, methods=["POST"]),
            ]
        )
        return Recorder(app)  # type: ignore[return-value]

    # -- running -----------------------------------------------------------------------------

    def start(self) -> FakePatreon:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Patreon did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def reset_pages(self) -> None:
        with self._lock:
            self._pages_served = 0


WEBHOOK_SECRET = "fake-webhook-secret"
# A webhook carries the member with every attribute, its user and its tiers.
EVERY_FIELD = {
    "include": "currently_entitled_tiers,user",
    "fields[member]": "campaign_lifetime_support_cents,currently_entitled_amount_cents,email,full_name,is_follower,"
    "last_charge_date,last_charge_status,lifetime_support_cents,next_charge_date,note,patron_status,pledge_cadence,"
    "pledge_relationship_start,will_pay_amount_cents",
    "fields[tier]": "amount_cents,created_at,description,published,title,url",
    "fields[user]": "full_name,first_name",
}


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.md5).hexdigest()


def parse_location(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
