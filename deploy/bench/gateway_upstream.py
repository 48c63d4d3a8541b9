"""The upstream the gateway benchmark calls: a tdc_shared service with a public and a
bearer-protected JSON endpoint (20 items serialized per request, like a real list).

Started by bench_gateway.py with BENCH_JWKS (the JWKS of the key it signs tokens with).
"""

from __future__ import annotations

import json
import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import CurrentUser, KeySet, TokenVerifier
from tdc_shared.envelope import ok
from tdc_shared.settings import ServiceSettings

JWKS = json.loads(os.environ["BENCH_JWKS"])
ITEMS = [{"id": i, "slug": f"event-{i}", "title": f"Night {i}", "starts_at": "2026-12-01T20:00:00Z"} for i in range(20)]

router = APIRouter()


@router.get("/api/v1/events")
async def events() -> JSONResponse:
    return ok(ITEMS, meta={"pagination": {"page": 1, "per_page": 20, "total": 20}})


@router.get("/api/v1/user/profile")
async def profile(user: CurrentUser) -> JSONResponse:
    return ok({"id": user.user_id, "role": user.role, "items": ITEMS})


@router.get("/api/v1/auth/jwks.json")
async def jwks() -> JSONResponse:
    return ok(JWKS)


settings = ServiceSettings(env="test", service_name="bench")
app = create_service(
    ServiceSpec(
        name="bench",
        settings=settings,
        routers=[router],
        verifier=lambda s: TokenVerifier(KeySet.static(JWKS), issuer=s.jwt_issuer, audience=s.jwt_audience),
    )
)
