"""The stack as a whole: one port answers, unknown paths and health in the envelope."""

from __future__ import annotations

import json
import socket

import httpx2
import pytest

pytestmark = pytest.mark.e2e


def test_gateway_answers_health(stack) -> None:
    response = httpx2.get(f"{stack.url}/healthz")
    assert response.status_code == 200
    assert response.json()["success"] is True


def test_unknown_path_is_a_404_envelope(stack) -> None:
    response = httpx2.get(f"{stack.url}/api/v1/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False and body["error"]


def test_request_id_is_passed_back(stack) -> None:
    response = httpx2.get(f"{stack.url}/healthz", headers={"X-Request-Id": "e2e-check-123"})
    assert response.headers["x-request-id"] == "e2e-check-123"


def test_every_service_is_healthy_on_its_own_port(stack) -> None:
    for name in json.loads(stack.env["TDC_GATEWAY_UPSTREAMS"]):
        response = httpx2.get(f"{stack.service_url(name)}/readyz")
        assert response.status_code == 200, (name, response.text)


def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("target", ["gateway", "catalog"])
def test_malformed_and_oversized_requests_are_refused_in_the_envelope(stack, target: str) -> None:
    # Every process of the stack runs the project's HTTP protocol (deploy/local/stack.py).
    url = stack.url if target == "gateway" else stack.service_url("catalog")
    smuggled = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = raw_exchange(url, smuggled + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"success": False, "error": "Malformed HTTP request"}
    huge = b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    answer = raw_exchange(url, huge)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "Request header fields too large"


async def test_each_service_reaches_its_own_schema_only(stack) -> None:
    # The stack runs every service on its own account (deploy/mysql/initdb, as in compose).
    from mysql.connector import errors as mysql_errors

    from tdc_shared.db import connect

    prefix = stack.env["TDC_DB_PREFIX"]
    catalog_url = stack.service_env["catalog"]["TDC_MYSQL_URL"]
    assert f"//{prefix}catalog:" in catalog_url
    conn = await connect(catalog_url)
    try:
        cursor = await conn.cursor()
        await cursor.execute(f"SELECT COUNT(*) FROM `{prefix}catalog`.events")  # noqa: S608 - schema prefix of this test run, not input
        await cursor.fetchall()
        with pytest.raises(mysql_errors.ProgrammingError) as denied:
            await cursor.execute(f"SELECT email FROM `{prefix}auth`.users")  # noqa: S608 - schema prefix of this test run, not input
        assert denied.value.errno in (1044, 1142)  # access denied to the database / to the table
    finally:
        await conn.close()
