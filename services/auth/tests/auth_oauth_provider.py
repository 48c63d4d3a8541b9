"""A local OAuth 2.0 / OpenID Connect provider for the tests, speaking real HTTP.

It plays Google (discovery document, JWKS, RS256-signed id_token with nonce), Discord and
Facebook (authorize, token, userinfo). The token endpoint refuses a code whose PKCE verifier
does not match the S256 challenge sent to authorize, and each code works once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from tdc_shared.testing.keys import SigningKey

PROVIDERS = ("google", "discord", "facebook")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeProvider:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.key = SigningKey.generate("provider-key")
        self.clients = {p: (f"{p}-client", f"{p}-secret") for p in PROVIDERS}
        # The person "signed in" at each provider for the next authorize call.
        self.person: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, tuple[str, dict[str, Any]]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def url(self, provider: str, path: str) -> str:
        return f"{self.base}/{provider}{path}"

    # -- the provider's endpoints ----------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/google/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": f"{self.base}/google",
                "authorization_endpoint": self.url("google", "/authorize"),
                "token_endpoint": self.url("google", "/token"),
                "userinfo_endpoint": self.url("google", "/userinfo"),
                "jwks_uri": self.url("google", "/jwks"),
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/google/jwks")
        async def jwks() -> dict[str, Any]:
            return {"keys": [self.key.jwk()]}

        @app.get("/{provider}/authorize")
        async def authorize(provider: str, request: Request) -> Any:
            q = request.query_params
            if q.get("client_id") != self.clients[provider][0] or q.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, 400)
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, 400)
            if provider == "google" and not q.get("nonce"):
                return JSONResponse({"error": "invalid_request", "error_description": "nonce required"}, 400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "provider": provider,
                "redirect_uri": q["redirect_uri"],
                "challenge": q["code_challenge"],
                "nonce": q.get("nonce"),
                "person": dict(self.person[provider]),
            }
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @app.post("/{provider}/token")
        async def token(provider: str, request: Request) -> Any:
            form = dict(await request.form())
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            auth = request.headers.get("authorization", "")
            if auth.startswith("Basic "):
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            self.token_requests.append({"provider": provider, **form})
            if (client_id, client_secret) != self.clients[provider]:
                return JSONResponse({"error": "invalid_client"}, 401)
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["provider"] != provider or grant["redirect_uri"] != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant"}, 400)
            if s256(form.get("code_verifier", "")) != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
            access = secrets.token_urlsafe(16)
            person = grant["person"]
            self.access_tokens[access] = (provider, person)
            body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
            if provider == "google":
                now = int(time.time())
                body["id_token"] = self.key.token(
                    sub=person["sub"],
                    iss=f"{self.base}/google",
                    aud=client_id,
                    nonce=grant["nonce"],
                    iat=now,
                    exp=now + 300,
                    email=person.get("email"),
                    email_verified=person.get("email_verified", False),
                    name=person.get("name"),
                    role=None,
                    jti=None,
                )
            return body

        @app.get("/{provider}/userinfo")
        @app.get("/{provider}/me")
        async def userinfo(provider: str, request: Request) -> Any:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            found = self.access_tokens.get(token)
            if found is None or found[0] != provider:
                return JSONResponse({"error": "invalid_token"}, 401)
            return found[1]

        return app

    # -- running it ------------------------------------------------------------------------

    def start(self) -> None:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return
            time.sleep(0.01)
        raise RuntimeError("the test OAuth provider did not start")

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)
