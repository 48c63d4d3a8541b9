#!/usr/bin/env bash
# deptry on every package of the workspace (shared, gateway, each folder under services/ with a
# pyproject.toml, so a new service is covered the day it appears): every import in a package's
# code must be a dependency its own pyproject.toml declares, and every declaration used.
#
# One exception, by design: tdc-shared is the framework, and FastAPI, Starlette, pydantic,
# pydantic-settings, the MySQL driver and prometheus-client are part of its interface (its
# ServiceSpec, Db, envelope errors and metrics speak those types), so a service may import
# them through it. Anything else a package imports, it declares. Tests and benchmarks are not
# scanned: the workspace's dev group provides their tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
deptry="$PWD/.venv/bin/deptry"
framework="fastapi|starlette|pydantic|pydantic_settings|mysql|prometheus_client"
# Needed at run time without an import of our own: Starlette's session cookies, FastAPI's forms,
# the Swagger UI files the gateway serves (read with importlib.resources).
runtime_only="itsdangerous|python-multipart|swagger-ui-py"
names="tdc-shared=tdc_shared,swagger-ui-py=swagger_ui,pyjwt=jwt"
status=0
for project in shared gateway services/*/; do
  project="${project%/}"
  [ -f "$project/pyproject.toml" ] || continue
  (cd "$project" && "$deptry" . --no-ansi --extend-exclude "bench" \
      \
      --per-rule-ignores "DEP003=$framework,DEP002=$runtime_only" --package-module-name-map "$names") || status=1
done
exit $status
