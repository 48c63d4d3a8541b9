"""One OpenAPI document for the frontend team, merged from every running service's own.

Each service's `/openapi.json` is fetched (cached briefly); a path is kept only if the
gateway routes it to that service, so the document shows exactly what the gateway exposes
and two services can never both claim a path. Component schemas with the same name but
different content are renamed `<service>_<Name>` in the service that brought them.
Services that do not answer are listed in `info.x-unavailable-services`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from typing import Any

import aiohttp

from .table import RoutingTable

log = logging.getLogger(__name__)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BEARER_POLICIES = {"user", "staff", "admin"}
_REF_PREFIX = "#/components/schemas/"


class OpenApiMerger:
    def __init__(
        self,
        table: RoutingTable,
        session: aiohttp.ClientSession,
        own_document: dict[str, Any],
        ttl: float,
        title: str = "The Dreamer's Cave API",
    ) -> None:
        self.table = table
        self.session = session
        self.own_document = own_document
        self.ttl = ttl
        self.title = title
        self._cached: bytes | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def document_bytes(self) -> bytes:
        if self._cached is not None and time.monotonic() - self._cached_at < self.ttl:
            return self._cached
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached_at >= self.ttl:
                document = await self.build()
                self._cached = json.dumps(document, separators=(",", ":")).encode()
                self._cached_at = time.monotonic()
            return self._cached

    async def build(self) -> dict[str, Any]:
        upstreams = self.table.upstreams()
        by_url: dict[str, list[str]] = {}
        for service, url in upstreams.items():
            by_url.setdefault(url, []).append(service)
        urls = list(by_url)
        documents = await asyncio.gather(*(self._fetch(url) for url in urls))
        merged: dict[str, Any] = {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": "1"},
            "paths": {},
            "components": {
                "schemas": {},
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
            "tags": [],
        }
        unavailable = []
        self._add(merged, "gateway", self.own_document, accept=lambda path: True)
        for url, document in zip(urls, documents, strict=True):
            services = by_url[url]
            if document is None:
                unavailable += services
                continue
            self._add(merged, services[0], document, accept=lambda path, url=url: self._routed_to(path, url))
        if unavailable:
            merged["info"]["x-unavailable-services"] = sorted(unavailable)
        return merged

    def _routed_to(self, path: str, url: str) -> bool:
        route = self.table.match(path)
        return route is not None and not route.local and route.upstream == url

    async def _fetch(self, url: str) -> dict[str, Any] | None:
        try:
            timeout = aiohttp.ClientTimeout(total=3)
            async with self.session.get(url + "/openapi.json", timeout=timeout) as response:
                if response.status != 200:
                    return None
                document = await response.json(content_type=None)
                return document if isinstance(document, dict) else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("no OpenAPI from %s: %s", url, exc)
            return None

    def _add(self, merged: dict[str, Any], service: str, document: dict[str, Any], accept: Any) -> None:
        document = copy.deepcopy(document)
        schemas = (document.get("components") or {}).get("schemas") or {}
        renames = {}
        for name, schema in schemas.items():
            existing = merged["components"]["schemas"].get(name)
            if existing is not None and existing != schema:
                renames[name] = f"{service}_{name}"
        if renames:
            document = _rename_refs(document, renames)
            schemas = (document.get("components") or {}).get("schemas") or {}
        for name, schema in schemas.items():
            merged["components"]["schemas"].setdefault(renames.get(name, name), schema)
        operation_ids = {
            op.get("operationId")
            for item in merged["paths"].values()
            for method, op in item.items()
            if method in METHODS and isinstance(op, dict)
        }
        added = False
        for path, item in (document.get("paths") or {}).items():
            if path in merged["paths"] or not accept(path):
                continue
            route = self.table.match(path)
            for method, operation in item.items():
                if method not in METHODS or not isinstance(operation, dict):
                    continue
                operation.setdefault("tags", [service])
                if operation.get("operationId") in operation_ids:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
                if route is not None and route.policy in _BEARER_POLICIES:
                    operation.setdefault("security", [{"bearerAuth": []}])
            merged["paths"][path] = item
            added = True
        if added:
            known = {t["name"] for t in merged["tags"]}
            for tag in document.get("tags") or []:
                if isinstance(tag, dict) and tag.get("name") not in known:
                    merged["tags"].append(tag)


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                name = value[len(_REF_PREFIX) :]
                out[key] = _REF_PREFIX + renames.get(name, name)
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>The Dreamer's Cave API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

# Kept out of the HTML so a strict Content-Security-Policy (no inline script) still works.
DOCS_INIT_JS = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""
