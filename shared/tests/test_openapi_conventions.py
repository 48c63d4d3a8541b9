"""Every service's OpenAPI follows one convention (tdc_shared.openapi): `<tag>-<name>` operation
ids, unique, and a description and an example on every request body."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
OPERATION_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-[a-z_][a-z0-9_]*$")


@pytest.fixture(scope="module", params=SERVICES)
def document(request: pytest.FixtureRequest) -> dict:
    app = importlib.import_module(f"tdc_{request.param}.main").app
    return app.openapi()


def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_operation_ids_are_tag_and_name_and_unique(document: dict):
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert ids, "no operations"
    assert len(ids) == len(set(ids))
    bad = [i for i in ids if not OPERATION_ID.match(i) or "_api_v1_" in i]
    assert bad == []
    for _, _, op in operations(document):
        assert op["operationId"].endswith(tuple(op["operationId"].split("-")[-1:]))
        assert op["operationId"].startswith(re.sub(r"[^a-z0-9]+", "-", op["tags"][0].lower()).strip("-") + "-")


def test_every_request_body_has_a_description_and_an_example(document: dict):
    missing = []
    for path, method, op in operations(document):
        body = op.get("requestBody")
        if body is None:
            continue
        if not body.get("description"):
            missing.append((method, path, "description"))
        for media_type, media in body["content"].items():
            if "example" not in media and "examples" not in media:
                missing.append((method, path, media_type, "example"))
    assert missing == []


def test_every_json_body_example_is_valid_for_its_schema(document: dict):
    """An example a generated client or a reader copies must be accepted as it stands; JSON sent
    as text (`contentMediaType: application/json`) is checked against its `contentSchema`."""
    import jsonschema

    checked = 0
    for path, method, op in operations(document):
        for media_type, media in (op.get("requestBody") or {}).get("content", {}).items():
            schema, example = media.get("schema", {}), media.get("example")
            if schema.get("contentMediaType") == "application/json":
                schema, example = schema["contentSchema"], json.loads(example)
            elif media_type != "application/json" or "example" not in media:
                continue
            schema = {**schema, "components": document.get("components", {})}
            errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(example)]
            assert errors == [], (method, path, errors)
            checked += 1
    assert checked > 0 or not any("requestBody" in op for _, _, op in operations(document))


def test_a_raw_body_is_declared_from_its_model_or_refused():
    from pydantic import BaseModel, ConfigDict

    from tdc_shared.openapi import raw_body

    class Visit(BaseModel):
        """Avatars at the venue."""

        model_config = ConfigDict(json_schema_extra={"examples": [{"count": 42, "venue": "Nébula"}]})
        count: int
        venue: str

    body = raw_body(Visit, ("text/plain", "application/json"))["requestBody"]
    assert body["description"] == "Avatars at the venue."
    assert body["content"]["application/json"]["example"] == {"count": 42, "venue": "Nébula"}
    text = body["content"]["text/plain"]
    assert text["example"] == '{"count":42,"venue":"Nébula"}'
    assert text["schema"]["contentSchema"]["required"] == ["count", "venue"]

    class Undocumented(BaseModel):
        count: int

    class Nested(BaseModel):
        """Visits."""

        model_config = ConfigDict(json_schema_extra={"examples": [{"visit": {"count": 1, "venue": "x"}}]})
        visit: Visit

    for model in (Undocumented, Nested):
        with pytest.raises(ValueError, match=model.__name__):
            raw_body(model)
