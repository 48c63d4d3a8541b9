"""OpenAPI for the frontend team's generated clients: one convention in every service.

- Operation ids are `<tag>-<name>` (`events-list_events`, `admin-events-publish_event`): a
  generated client names its methods after them, so they must be stable and readable, not
  FastAPI's `list_events_api_v1_events_get`.
- Every request body carries a description and an example: the body model's docstring and
  first `examples` entry are lifted onto the request body, where Swagger UI and generators
  look first (also for an optional body, whose schema is `anyOf: [model, null]`).
- A route that reads its own bytes (to check a signature over exactly what was sent) has no
  body parameter FastAPI could see: `raw_body(Model)` in its `openapi_extra` declares the same
  description, schema and example without changing how the bytes are read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{_slug(str(tag))}-{route.name}"


def _model(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The component a body schema names, directly or as the non-null branch of anyOf."""
    ref = schema.get("$ref")
    if ref is None:
        branches = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        ref = branches[0].get("$ref") if len(branches) == 1 else None
    if ref is None:
        return schema
    found: dict[str, Any] = components.get(ref.rsplit("/", 1)[-1], {})
    return found


def document_request_bodies(document: dict[str, Any]) -> dict[str, Any]:
    components = document.get("components", {}).get("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body:
                continue
            for media in body.get("content", {}).values():
                model = _model(media.get("schema", {}), components)
                if "description" not in body and model.get("description"):
                    body["description"] = model["description"]
                if "example" not in media and "examples" not in media and model.get("examples"):
                    media["example"] = model["examples"][0]
    return document


def raw_body(model: type[BaseModel], media_types: Sequence[str] = ("application/json",)) -> dict[str, Any]:
    """`openapi_extra` for a route that reads the body itself: `model`'s docstring, schema and first
    example, under each of `media_types`. JSON sent as `text/plain` (what LSL's `llHTTPRequest`
    sends) is declared a string whose content is that JSON, its example the compact text."""
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise ValueError(f"{model.__name__}: a raw body's model must be flat (its schema is written inline)")
    if not schema.get("description") or not schema.get("examples"):
        raise ValueError(f"{model.__name__}: a raw body's model needs a docstring and an example")
    example = schema["examples"][0]
    content: dict[str, Any] = {}
    for media_type in media_types:
        if media_type == "application/json":
            content[media_type] = {"schema": schema, "example": example}
        else:
            content[media_type] = {
                "schema": {"type": "string", "contentMediaType": "application/json", "contentSchema": schema},
                "example": json.dumps(example, separators=(",", ":"), ensure_ascii=False),
            }
    return {"requestBody": {"required": True, "description": schema["description"], "content": content}}


def install_openapi(app: FastAPI) -> None:
    """Body documentation for `app`'s document, computed once like FastAPI's own (operation ids
    come from `generate_unique_id_function=operation_id` on the app)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_request_bodies(document)
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to replace it
