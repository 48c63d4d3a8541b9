"""Fake Google Calendar (token endpoint + events API) and Graph API servers, over real HTTP.

They answer with the real bodies in `fixtures/` and enforce what the real APIs enforce:
- Google token endpoint: the jwt-bearer grant, an RS256 assertion signed with the service
  account's key, claims iss/scope/aud/iat/exp with exp <= iat + 3600 (else 400 invalid_grant);
- Google events: a Bearer token it issued (else 401), client ids in base32hex of 5-1024
  characters, 409 for an id that exists (deleted ones too: Google keeps their ids), 404 for an
  unknown id, 410 for deleting a deleted one, deleted events still returned by GET with
  `status: cancelled`, start and end required on insert and update;
- Graph: any /vNN.N/ prefix, a page token it knows (else the real #190 body), posts by id.

Each runs in a thread of its own with its own event loop, so both the service tests (same
process) and the end-to-end stack (other processes) can call it. `fail_next` makes the next
matching request answer one of the real error bodies.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FIXTURES = Path(__file__).parent / "fixtures"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Fault:
    method: str
    path_part: str
    status: int
    body: Any
    times: int = 1


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


class ThreadedServer:
    """An aiohttp app served on 127.0.0.1:<free port> from a background thread."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    def app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> ThreadedServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._runner = web.AppRunner(self.app())
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name=type(self).__name__)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def fail_next(self, method: str, path_part: str, status: int, body: Any, times: int = 1) -> None:
        """The next `times` requests of `method` whose path contains `path_part` get this answer."""
        with self._lock:
            self.faults.append(Fault(method, path_part, status, body, times))

    def _fault_for(self, request: web.Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == request.method and fault.path_part in request.path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def calls(self, method: str | None = None, path_part: str = "") -> list[Recorded]:
        return [r for r in list(self.requests) if (method is None or r.method == method) and path_part in r.path]


# -- Google ----------------------------------------------------------------------------------


@dataclass
class StoredEvent:
    body: dict[str, Any]
    deleted: bool = False


@dataclass
class ServiceAccountKey:
    client_email: str
    private_key: rsa.RSAPrivateKey
    key_id: str = field(default_factory=lambda: secrets.token_hex(20))

    def as_file(self, token_url: str) -> dict[str, Any]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": "tdc-test",
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1234567890",
            "token_uri": token_url,
        }


class FakeGoogle(ThreadedServer):
    def __init__(self, token_lifetime: int = 3600) -> None:
        super().__init__()
        self.account = ServiceAccountKey(
            "tdc-calendar@tdc-test.iam.gserviceaccount.com",
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )
        self.token_lifetime = token_lifetime
        self.tokens: set[str] = set()
        self.assertions: list[dict[str, Any]] = []
        self.calendars: dict[str, dict[str, StoredEvent]] = {}
        self._etags = itertools.count(3129246250498000)

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def api_url(self) -> str:
        return f"{self.url}/calendar/v3"

    def write_credentials(self, path: Path) -> Path:
        path.write_text(json.dumps(self.account.as_file(self.token_url)))
        return path

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def events(self, calendar: str, *, visible_only: bool = True) -> dict[str, dict[str, Any]]:
        stored = self.calendars.get(calendar, {})
        return {k: copy.deepcopy(v.body) for k, v in stored.items() if not (visible_only and v.deleted)}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_route("*", "/calendar/v3/calendars/{calendar}/events", self._collection)
        app.router.add_route("*", "/calendar/v3/calendars/{calendar}/events/{event_id}", self._item)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(Recorded(request.method, request.path, dict(form)))
        fault = self._fault_for(request)
        if fault:
            return web.json_response(fault.body, status=fault.status)
        if form.get("grant_type") != JWT_BEARER:
            return web.json_response(
                {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "}, status=400
            )
        assertion = str(form.get("assertion") or "")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.account.private_key.public_key(),
                algorithms=["RS256"],
                audience=self.token_url,
                options={"require": ["iss", "scope", "aud", "iat", "exp"], "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
            )
        except jwt.PyJWTError:
            return web.json_response(fixture("google/oauth-token-error-invalid-grant.json"), status=400)
        now = time.time()
        short_lived = claims["exp"] - claims["iat"] <= 3600 and abs(claims["iat"] - now) < 300
        if header.get("alg") != "RS256" or claims["iss"] != self.account.client_email or not short_lived:
            return web.json_response(fixture("google/oauth-token-error-invalid-grant.json"), status=400)
        if not any(scope.startswith(CALENDAR_SCOPE) for scope in str(claims["scope"]).split()):
            return web.json_response(
                {"error": "invalid_scope", "error_description": "Invalid OAuth scope."}, status=400
            )
        self.assertions.append({"header": header, "claims": claims})
        answer = fixture("google/oauth-token-response.json")
        answer.update(
            {
                "access_token": f"ya29.{secrets.token_urlsafe(24)}",
                "expires_in": self.token_lifetime,
                "scope": claims["scope"],
            }
        )
        self.tokens.add(answer["access_token"])
        return web.json_response(answer)

    async def _checked(self, request: web.Request) -> tuple[web.Response | None, Any]:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response(_google_error(400, "parseError", "Parse Error"), status=400), None
        self.requests.append(Recorded(request.method, request.path, body))
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return web.json_response(fixture("google/error-401-invalid-credentials.json"), status=401), body
        fault = self._fault_for(request)
        if fault:
            return web.json_response(fault.body, status=fault.status), body
        return None, body

    def _resource(
        self, calendar: str, event_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        template = existing or fixture("google/event-captured.json")
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        resource = {k: v for k, v in template.items() if k not in ("description", "location", "extendedProperties")}
        resource.update({k: v for k, v in body.items() if k not in ("id", "sequence", "kind", "etag", "created")})
        resource.update(
            {
                "id": event_id,
                "etag": f'"{next(self._etags)}"',
                "iCalUID": f"{event_id}@google.com",
                "htmlLink": f"https://www.google.com/calendar/event?eid={base64.b64encode(event_id.encode()).decode()}",
                "updated": now,
                "created": template["created"] if existing else now,
                "sequence": (existing or {}).get("sequence", -1) + 1,
                "status": body.get("status", "confirmed"),
            }
        )
        return resource

    async def _collection(self, request: web.Request) -> web.Response:
        refused, body = await self._checked(request)
        if refused:
            return refused
        if request.method != "POST":
            return web.json_response(_google_error(405, "httpMethodNotAllowed", "Method not allowed"), status=405)
        calendar = request.match_info["calendar"]
        if not isinstance(body, dict) or not body.get("start") or not body.get("end"):
            return web.json_response(_google_error(400, "required", "Missing end time."), status=400)
        event_id = str(body.get("id") or secrets.token_hex(13))
        if not EVENT_ID.fullmatch(event_id):
            return web.json_response(_google_error(400, "invalid", "Invalid resource id value."), status=400)
        stored = self.calendars.setdefault(calendar, {})
        if event_id in stored:
            return web.json_response(fixture("google/error-409-duplicate.json"), status=409)
        stored[event_id] = StoredEvent(self._resource(calendar, event_id, body, None))
        return web.json_response(stored[event_id].body)

    async def _item(self, request: web.Request) -> web.Response:
        refused, body = await self._checked(request)
        if refused:
            return refused
        calendar, event_id = request.match_info["calendar"], request.match_info["event_id"]
        stored = self.calendars.setdefault(calendar, {})
        current = stored.get(event_id)
        if current is None:
            return web.json_response(fixture("google/error-404-not-found.json"), status=404)
        if request.method == "GET":
            return web.json_response(current.body)
        if request.method == "DELETE":
            if current.deleted:
                return web.json_response(fixture("google/error-410-deleted.json"), status=410)
            current.deleted = True
            current.body["status"] = "cancelled"
            return web.Response(status=204)
        if request.method == "PUT":
            if not isinstance(body, dict) or not body.get("start") or not body.get("end"):
                return web.json_response(_google_error(400, "required", "Missing end time."), status=400)
            current.body = self._resource(calendar, event_id, body, current.body)
            current.deleted = current.body["status"] == "cancelled"
            return web.json_response(current.body)
        return web.json_response(_google_error(405, "httpMethodNotAllowed", "Method not allowed"), status=405)


def _google_error(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "code": code,
            "message": message,
        }
    }


# -- Graph -----------------------------------------------------------------------------------


@dataclass
class Post:
    message: str
    link: str | None
    deleted: bool = False
    edits: int = 0


class FakeGraph(ThreadedServer):
    def __init__(self, page_id: str = "104355195322961", token: str | None = None) -> None:
        super().__init__()
        self.page_id = page_id
        self.tokens = {token or f"EAAB{secrets.token_urlsafe(40)}"}
        self.posts: dict[str, Post] = {}
        self._ids = itertools.count(3_500_000_000_001)

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def live_posts(self) -> dict[str, Post]:
        return {k: v for k, v in self.posts.items() if not v.deleted}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{version}/{node}", self._node)
        app.router.add_route("*", "/{version}/{node}/{edge}", self._node)
        return app

    async def _node(self, request: web.Request) -> web.Response:
        form = dict(await request.post()) if request.can_read_body else {}
        self.requests.append(Recorded(request.method, request.path, form))
        if not re.fullmatch(r"v\d+\.\d+", request.match_info["version"]):
            return _graph_error(400, 2500, "Unknown path components: /" + request.match_info["version"])
        auth = request.headers.get("Authorization", "")
        token = (
            auth.split(" ", 1)[1]
            if " " in auth
            else str(form.get("access_token") or request.query.get("access_token") or "")
        )
        if token not in self.tokens:
            return web.json_response(fixture("facebook/error-190-463-session-expired.json"), status=400)
        fault = self._fault_for(request)
        if fault:
            return web.json_response(fault.body, status=fault.status)
        node, edge = request.match_info["node"], request.match_info.get("edge")
        if edge is not None:
            if edge == "events":
                return web.json_response(fixture("facebook/error-12-events-api-deprecated.json"), status=400)
            if node != self.page_id or edge != "feed" or request.method != "POST":
                return _graph_error(400, 100, "Unsupported request")
            if not form.get("message") and not form.get("link"):
                return _graph_error(400, 100, "(#100) Missing message or attachment")
            post_id = f"{self.page_id}_{next(self._ids)}"
            self.posts[post_id] = Post(str(form.get("message") or ""), form.get("link"))  # type: ignore[arg-type]
            answer = fixture("facebook/feed-publish-response-docs.json")
            answer["id"] = post_id
            return web.json_response(answer)
        post = self.posts.get(node)
        if post is None or post.deleted:
            return _graph_error(
                400, 100, f"Unsupported {request.method.lower()} request. Object with ID '{node}' does not exist"
            )
        if request.method == "POST":
            post.message = str(form.get("message") or post.message)
            post.edits += 1
            return web.json_response(fixture("facebook/post-update-response.json"))
        if request.method == "DELETE":
            post.deleted = True
            return web.json_response({"success": True})
        if request.method == "GET":
            return web.json_response({"id": node, "message": post.message})
        return _graph_error(400, 100, "Unsupported request")


def _graph_error(status: int, code: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "GraphMethodException", "code": code, "fbtrace_id": "AbCdEf123"}}
    return web.json_response(body, status=status)


def wait_for(predicate: Callable[[], bool], within: float = 30.0, what: str = "the condition") -> None:
    """Bounded polling for a condition (never a timed assertion)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class StackFakes:
    """The fakes an end-to-end stack talks to, and the settings that point the service at them."""

    google: FakeGoogle
    graph: FakeGraph
    env: dict[str, str]
    internal_calendar: str = "internal-e2e@group.calendar.google.com"
    public_calendar: str = "public-e2e@group.calendar.google.com"

    def stop(self) -> None:
        self.google.stop()
        self.graph.stop()


def start_for_stack(workdir: Path) -> StackFakes:
    google = FakeGoogle().start()
    graph = FakeGraph().start()
    assert isinstance(google, FakeGoogle) and isinstance(graph, FakeGraph)
    credentials = google.write_credentials(workdir / "google-service-account.json")
    fakes = StackFakes(google, graph, {})
    fakes.env = {
        "TDC_INTEGRATION_GOOGLE_CREDENTIALS_FILE": str(credentials),
        "TDC_INTEGRATION_GOOGLE_INTERNAL_CALENDAR_ID": fakes.internal_calendar,
        "TDC_INTEGRATION_GOOGLE_PUBLIC_CALENDAR_ID": fakes.public_calendar,
        "TDC_INTEGRATION_GOOGLE_API_URL": google.api_url,
        "TDC_INTEGRATION_GOOGLE_TOKEN_URL": google.token_url,
        "TDC_INTEGRATION_FACEBOOK_PAGE_ID": graph.page_id,
        "TDC_INTEGRATION_FACEBOOK_PAGE_TOKEN": graph.token,
        "TDC_INTEGRATION_FACEBOOK_GRAPH_URL": graph.url,
        "TDC_INTEGRATION_WORKER_POLL_SECONDS": "0.5",
        "TDC_FRONTEND_URL": "https://dreamerscave.example",
    }
    return fakes
