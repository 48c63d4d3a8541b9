"""The gateway's own endpoints: health, readiness, merged OpenAPI, docs, ForwardAuth (metrics are
served on the internal TDC_METRICS_PORT by app.Gateway, not here)."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import aiohttp
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from tdc_shared.envelope import ERROR_RESPONSES, NotFound, install_error_handlers, ok
from tdc_shared.i18n import Lang
from tdc_shared.logs import accept_request_id, request_id_var
from tdc_shared.observability import NO_OPENTELEMETRY, HttpMetrics, RequestContextMiddleware

from .errors import BAD_GATEWAY, RATE_LIMITED, TIMEOUT, TOO_LARGE, UNAVAILABLE
from .openapi import DOCS_HTML, DOCS_INIT_JS
from .policy import Rejected, identity_headers
from .table import POLICIES

if TYPE_CHECKING:
    from .app import Gateway

SWAGGER_UI = Path(str(files("swagger_ui") / "static"))
STATIC_FILES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
FORWARDED_IDENTITY = ("X-User-Id", "X-User-Role", "X-User-Patreon-Tier", "X-User-Patreon-Cents")


async def _admin_authorization(request: Request) -> str:
    """The caller's Authorization header once it carries a valid admin token; else 401/403."""
    enforcer = request.app.state.gateway.enforcer
    authorization = request.headers.get("authorization")
    try:
        await enforcer.check("admin", authorization, set())
    except Rejected as exc:
        raise exc.as_api_error() from exc
    assert authorization is not None
    return authorization


AdminAuthorization = Annotated[str, Depends(_admin_authorization)]


def build_local_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(
        title="The Dreamer's Cave API gateway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.gateway = gateway
    install_error_handlers(app)
    app.include_router(_routes(gateway), responses=ERROR_RESPONSES)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=HttpMetrics(gateway.registry),
        quiet_paths=frozenset({"/healthz", "/readyz", "/metrics"}) | {f"/_auth/{p}" for p in POLICIES},
    )
    return app


def _routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(tags=["gateway"])

    @router.get(
        "/api/v1/admin/dashboard",
        tags=["admin: dashboard"],
        summary="Admin dashboard: each service's summary in one answer (admin)",
        description=(
            "`data` has one key per section (users, catalog, ...). A section whose service is down, slow or "
            "refuses is null, and `meta.sections` says why; the other sections are still there."
        ),
    )
    async def dashboard(authorization: AdminAuthorization, lang: Lang) -> JSONResponse:
        assert gateway.dashboard is not None
        request_id = request_id_var.get() or accept_request_id(None)
        data, meta = await gateway.dashboard.compose(authorization, lang, request_id)
        return ok(data, meta=meta, headers={"Cache-Control": "no-store"})

    @router.get("/healthz", summary="Liveness of the gateway")
    async def healthz() -> JSONResponse:
        return ok({"status": "ok"})

    @router.get("/readyz", summary="Readiness: the state of every upstream service")
    async def readyz() -> JSONResponse:
        # Always 200: one service being down must not take the whole gateway out of rotation.
        # A service is "up" with every server up, "partial" with some (it still answers), else "down".
        servers = gateway.table.servers()
        names = sorted(servers)
        states = await asyncio.gather(*(_probe_all(gateway, servers[name]) for name in names))
        result = dict(zip(names, states, strict=True))
        status = "ready" if all(s == "up" for s in states) else "degraded"
        return ok({"status": status, "upstreams": result})

    @router.get("/openapi.json", summary="The merged OpenAPI document of every running service")
    async def openapi() -> Response:
        assert gateway.openapi is not None
        return Response(await gateway.openapi.document_bytes(), media_type="application/json")

    @router.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    @router.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(DOCS_INIT_JS, media_type="text/javascript")

    @router.get("/docs/static/{name}", include_in_schema=False)
    async def docs_static(name: str) -> FileResponse:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise NotFound()
        return FileResponse(SWAGGER_UI / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"})

    @router.get(
        "/_auth/{policy}",
        summary="ForwardAuth for a Traefik in front: 200 with identity headers, or the 401/403 envelope",
    )
    async def forward_auth(policy: str, request: Request) -> Response:
        if policy not in POLICIES:
            raise NotFound("Unknown policy")
        # Preflights carry no credentials; CORS is answered by Traefik's headers middleware.
        if request.headers.get("x-forwarded-method", "").upper() == "OPTIONS":
            return Response(status_code=200)
        assert gateway.enforcer is not None
        present = {name.lower() for name in request.headers}
        try:
            claims = await gateway.enforcer.check(policy, request.headers.get("authorization"), present)
        except Rejected as exc:
            raise exc.as_api_error() from exc
        headers = {}
        if claims is not None:
            headers = dict(identity_headers(claims))
        return Response(status_code=200, headers=headers)

    @router.api_route(
        "/_error/{status}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def error_page(status: int) -> Response:
        """The envelope for a refusal a Traefik in front made itself (its `errors` middleware asks here)."""
        body, headers = EDGE_ERRORS.get(status, (None, ()))
        if body is None:
            raise NotFound()
        return Response(body, status_code=status, media_type="application/json", headers=dict(headers))

    return router


# The same bodies the gateway sends when it refuses itself (errors.py), so both doors agree.
EDGE_ERRORS: dict[int, tuple[bytes, tuple[tuple[str, str], ...]]] = {
    413: (TOO_LARGE, ()),
    429: (RATE_LIMITED, (("Retry-After", "1"),)),
    502: (BAD_GATEWAY, ()),
    503: (UNAVAILABLE, (("Retry-After", "5"),)),
    504: (TIMEOUT, ()),
}


async def _probe_all(gateway: Gateway, urls: tuple[str, ...]) -> str:
    states = set(await asyncio.gather(*(_probe(gateway, url) for url in urls)))
    return states.pop() if len(states) == 1 else "partial"


async def _probe(gateway: Gateway, url: str) -> str:
    assert gateway.session is not None
    try:
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with gateway.session.get(url + "/healthz", timeout=timeout) as response:
            return "up" if response.status == 200 else "down"
    except (aiohttp.ClientError, TimeoutError):
        return "down"
