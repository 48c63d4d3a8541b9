"""The stack as a whole: one port answers, unknown paths and health in the envelope."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_gateway_answers_health(stack) -> None:
    response = httpx.get(f"{stack.url}/healthz")
    assert response.status_code == 200
    assert response.json()["success"] is True


def test_unknown_path_is_a_404_envelope(stack) -> None:
    response = httpx.get(f"{stack.url}/api/v1/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False and body["error"]


def test_request_id_is_passed_back(stack) -> None:
    response = httpx.get(f"{stack.url}/healthz", headers={"X-Request-Id": "e2e-check-123"})
    assert response.headers["x-request-id"] == "e2e-check-123"


def test_every_service_is_healthy_on_its_own_port(stack) -> None:
    for name in json.loads(stack.env["TDC_GATEWAY_UPSTREAMS"]):
        response = httpx.get(f"{stack.service_url(name)}/readyz")
        assert response.status_code == 200, (name, response.text)
