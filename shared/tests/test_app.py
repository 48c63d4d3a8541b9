"""The app factory: envelope for every error, health, readiness, metrics, request ids."""

from __future__ import annotations

import gc
import socket
import urllib.request
from pathlib import Path

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from mysql.connector import errors as mysql_errors
from pydantic import BaseModel, ConfigDict, Field

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import CurrentUser, KeySet, OptionalUser, StaffUser, TokenVerifier
from tdc_shared.db import DatabaseUnavailable
from tdc_shared.envelope import Conflict, created, ok
from tdc_shared.i18n import Lang
from tdc_shared.pagination import Pagination, paginated
from tdc_shared.settings import ServiceSettings
from tdc_shared.testing.keys import AUDIENCE, ISSUER, jwks

router = APIRouter()


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=100)
    stars: int = Field(ge=1, le=5)


@router.post("/notes")
async def create_note(note: NoteIn, request: Request):
    new_id = await request.app.state.db.execute("INSERT INTO notes (body) VALUES (%s)", (note.body,))
    return created({"id": new_id, "body": note.body})


@router.get("/notes")
async def list_notes(request: Request, page: Pagination, lang: Lang):
    db = request.app.state.db
    total = await db.fetch_value("SELECT COUNT(*) FROM notes")
    rows = await db.fetch_all("SELECT id, body FROM notes ORDER BY id LIMIT %s OFFSET %s", (page.limit, page.offset))
    return paginated(rows, page, total)


@router.get("/notes/{note_id}")
async def get_note(note_id: int, lang: Lang):
    return ok({"id": note_id, "lang": lang})


@router.get("/boom")
async def boom():
    raise RuntimeError("secret internal detail")


@router.get("/db-down")
async def db_down():
    raise DatabaseUnavailable("pretend the server went away")


@router.post("/deadlock")
async def deadlock():
    raise mysql_errors.InternalError(msg="Deadlock found when trying to get lock", errno=1213, sqlstate="40001")


@router.get("/bad-sql")
async def bad_sql():
    raise mysql_errors.ProgrammingError(msg="You have an error in your SQL syntax", errno=1064, sqlstate="42000")


@router.get("/conflict")
async def conflict():
    raise Conflict("Slug already taken", errors={"slug": ["must be unique"]})


@router.get("/whoami")
async def whoami(user: OptionalUser):
    return ok({"sub": user.sub if user else None})


@router.get("/me")
async def me(user: CurrentUser):
    return ok({"sub": user.sub, "role": user.role})


@router.get("/staff-only")
async def staff_only(user: StaffUser):
    return ok({"sub": user.sub})


@pytest.fixture(scope="module")
def client(mysql_url: str, db_prefix: str, signing_key, tmp_path_factory):
    migrations = tmp_path_factory.mktemp("migrations")
    (migrations / "0001_notes.sql").write_text(
        "CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL);"
    )
    settings = ServiceSettings(mysql_url=mysql_url, db_prefix=db_prefix, env="test", metrics_port=free_port())
    spec = ServiceSpec(
        name="apptest",
        settings=settings,
        routers=[router],
        migrations=Path(migrations),
        verifier=lambda s: TokenVerifier(KeySet.static(jwks(signing_key)), issuer=ISSUER, audience=AUDIENCE),
    )
    with TestClient(create_service(spec), raise_server_exceptions=False) as test_client:
        yield test_client


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"success": True, "data": {"status": "ok"}}
    ready = client.get("/readyz").json()
    assert ready["data"]["checks"] == {"database": "ok"}


def test_readiness_fails_in_the_envelope_when_a_dependency_is_down(client: TestClient) -> None:
    async def broker_down() -> bool:
        return False

    client.app.state.readiness["broker"] = broker_down
    try:
        response = client.get("/readyz")
    finally:
        del client.app.state.readiness["broker"]
    assert response.status_code == 503
    assert response.json() == {"success": False, "error": "Service not ready", "errors": {"broker": ["unreachable"]}}


def test_unknown_path_is_404_in_the_envelope(client: TestClient) -> None:
    response = client.get("/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Not found"}


def test_wrong_method_is_405_in_the_envelope(client: TestClient) -> None:
    response = client.delete("/notes")
    assert response.status_code == 405
    assert response.json() == {"success": False, "error": "Method not allowed"}


def test_validation_errors_are_422_per_field(client: TestClient) -> None:
    response = client.post("/notes", json={"body": "", "stars": 9, "role": "admin"})
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False and body["error"] == "Validation failed"
    assert set(body["errors"]) == {"body", "stars", "role"}
    assert body["errors"]["role"] == ["unknown field"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post("/notes", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["success"] is False


def test_bad_path_parameter_is_422(client: TestClient) -> None:
    response = client.get("/notes/abc")
    assert response.status_code == 422
    assert "note_id" in response.json()["errors"]


def test_unexpected_error_is_500_without_details(client: TestClient) -> None:
    response = client.get("/boom", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error"}
    assert "secret" not in response.text
    assert response.headers["x-request-id"] == "req-500"


def test_database_unavailable_is_503(client: TestClient) -> None:
    response = client.get("/db-down")
    assert response.status_code == 503
    assert response.json() == {"success": False, "error": "Service temporarily unavailable"}
    assert response.headers["retry-after"]


def test_api_errors_carry_field_errors(client: TestClient) -> None:
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == {"success": False, "error": "Slug already taken", "errors": {"slug": ["must be unique"]}}


def test_create_and_paginate(client: TestClient) -> None:
    for i in range(3):
        assert client.post("/notes", json={"body": f"note {i}", "stars": 3}).status_code == 201
    response = client.get("/notes", params={"page": 2, "per_page": 2})
    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) >= 1
    pagination = body["meta"]["pagination"]
    assert pagination["page"] == 2 and pagination["per_page"] == 2
    assert pagination["pages"] == (pagination["total"] + 1) // 2


@pytest.mark.parametrize("params", [{"page": 0}, {"per_page": 0}, {"per_page": 101}, {"page": "x"}, {"lang": "de"}])
def test_bad_list_parameters_are_422(client: TestClient, params: dict) -> None:
    response = client.get("/notes", params=params)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == set(params)


def test_language_from_query_then_header(client: TestClient) -> None:
    assert client.get("/notes/1", params={"lang": "fr"}).json()["data"]["lang"] == "fr"
    assert (
        client.get("/notes/1", headers={"Accept-Language": "de-DE, it;q=0.8, es;q=0.5"}).json()["data"]["lang"] == "it"
    )
    assert client.get("/notes/1").json()["data"]["lang"] == "en"


def test_request_id_is_kept_or_created(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    created_id = client.get("/healthz").headers["x-request-id"]
    assert len(created_id) == 32
    # A hostile id (log injection) is replaced, not echoed.
    replaced = client.get("/healthz", headers={"X-Request-Id": "evil\nforged log line"}).headers["x-request-id"]
    assert "\n" not in replaced and replaced != "evil\nforged log line"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(client: TestClient) -> str:
    port = client.app.state.settings.metrics_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_metrics_are_not_on_the_public_port(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 404 and response.json() == {"success": False, "error": "Not found"}
    assert "http_requests_total" in scrape(client)


def test_metrics_are_labelled_by_route_template(client: TestClient) -> None:
    client.get("/notes/41")
    client.get("/notes/42")
    client.get("/no/such/path")
    text = scrape(client)
    assert 'tdc_http_requests_total{method="GET",route="/notes/{note_id}",status="200"}' in text
    assert 'route="/notes/41"' not in text
    assert 'route="<unmatched>",status="404"' in text
    assert "tdc_http_request_duration_seconds_bucket" in text


def test_metrics_have_one_naming_scheme(client: TestClient) -> None:
    client.request("BREW", "/notes/41")  # a method HTTP does not have: counted, not as a label of its own
    text = scrape(client)
    assert 'tdc_http_requests_total{method="_OTHER"' in text
    assert 'method="BREW"' not in text
    assert "process_cpu_seconds_total" in text and "python_gc_collections_total" in text
    assert "_created" not in text
    ours = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    runtime = ("process_", "python_")
    assert all(name.startswith(("tdc_", *runtime)) for name in ours), sorted(ours)


def test_current_user_and_roles(client: TestClient, signing_key) -> None:
    assert client.get("/me").status_code == 401
    assert client.get("/me").headers["www-authenticate"] == "Bearer"
    user_token = signing_key.token(sub=7, role="user")
    staff_token = signing_key.token(sub=8, role="staff")
    assert client.get("/me", headers={"Authorization": f"Bearer {user_token}"}).json()["data"] == {
        "sub": "7",
        "role": "user",
    }
    forbidden = client.get("/staff-only", headers={"Authorization": f"Bearer {user_token}"})
    assert forbidden.status_code == 403 and forbidden.json()["success"] is False
    assert client.get("/staff-only", headers={"Authorization": f"Bearer {staff_token}"}).status_code == 200
    assert client.get("/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/me", headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401


def test_openapi_documents_the_error_envelope_and_the_languages(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["properties"]) == {"success", "error", "errors"}
    assert "HTTPValidationError" not in document["components"]["schemas"]  # a body we never send
    listing = document["paths"]["/notes"]["get"]
    for status in ("4XX", "5XX"):
        schema = listing["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}
    [lang] = [p for p in listing["parameters"] if p["name"] == "lang"]
    assert lang["schema"]["enum"] == ["en", "it", "fr", "es"]


def test_a_failing_token_is_no_identity_on_public_routes_and_401_on_protected(client: TestClient, signing_key) -> None:
    import base64
    import json

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    forged = f"{b64({'alg': 'ES256', 'kid': signing_key.kid})}.{b64(signing_key.claims())}.{b64({})}"
    for token in (forged, signing_key.token(ttl=-60)):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/whoami", headers=headers).json()["data"] == {"sub": None}
        assert client.get("/me", headers=headers).status_code == 401
    good = {"Authorization": f"Bearer {signing_key.token(sub=3)}"}
    assert client.get("/whoami", headers=good).json()["data"] == {"sub": "3"}


def test_a_lock_conflict_is_a_503_to_send_again_not_a_500(client: TestClient) -> None:
    response = client.post("/deadlock")
    assert response.status_code == 503
    assert response.json() == {"success": False, "error": "The server is busy; try again"}
    assert response.headers["retry-after"] == "1"


def test_any_other_database_error_is_a_500_without_details(client: TestClient) -> None:
    response = client.get("/bad-sql")
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error"}
    assert "SQL" not in response.text


def test_requests_leave_no_garbage_cycles(client: TestClient, signing_key) -> None:
    # A request whose objects form a reference cycle waits for the garbage collector, whose
    # passes land on the requests in flight as p99 (the gateway's test checks its own side).
    bearer = {"Authorization": f"Bearer {signing_key.token(sub=7, role='user')}"}
    for _ in range(3):
        client.get("/notes/1")
        client.get("/me", headers=bearer)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(30):
            assert client.get("/notes/1?lang=it").status_code == 200
            assert client.get("/me", headers=bearer).status_code == 200
            assert client.get("/me").status_code == 401
        gc.collect()
        # The test client's own objects aside: the service's, FastAPI's and Starlette's must not be there.
        ours = sorted(
            {
                type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.startswith(("tdc_", "fastapi", "starlette"))
                and not type(o).__module__.startswith("starlette.testclient")
            }
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []
