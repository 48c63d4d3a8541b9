# The Dreamer's Cave backend. Needs only Python >= 3.11 on the machine: uv is installed
# into .tools/ on first use, and the workspace's locked dependencies into .venv/.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
PY     := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: lock install run test test-unit test-e2e bench lint format up down dead-letters replay-dead-letters clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml gateway/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced

## make run: the whole stack as local processes; gateway on http://localhost:8000
## (make run TRAEFIK=1: also a real Traefik on the same table, on http://localhost:8080)
run: install
	$(PY) deploy/local/stack.py $(if $(TRAEFIK),--traefik) $(if $(REPLICAS),--replicas $(REPLICAS))

## make test: every test, against real MySQL/MariaDB and RabbitMQ
test: install
	$(PY) -m pytest -q

test-unit: install
	$(PY) -m pytest -q --ignore=tests-e2e

test-e2e: install
	$(PY) -m pytest -q tests-e2e

## make bench: load figures (ratios against baselines measured in the same run)
bench: install
	$(PY) deploy/bench/run.py $(ONLY)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) deploy/lint/stands_alone.py
	$(VENV)/bin/mypy --strict shared/tdc_shared gateway/tdc_gateway
	deploy/lint/deptry.sh
	$(PY) deploy/lint/audit.py

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make dead-letters SERVICE=notification [NAMESPACE=tdc]: list a service's dead letters
dead-letters: install
	@test -n "$(SERVICE)" || { echo "usage: make dead-letters SERVICE=<service> [NAMESPACE=tdc]"; exit 2; }
	$(PY) -m tdc_shared.events.admin list --service $(SERVICE) $(if $(NAMESPACE),--namespace $(NAMESPACE))

## make replay-dead-letters SERVICE=notification [ID=<event id>]: move them back to the service's queue
replay-dead-letters: install
	@test -n "$(SERVICE)" || { echo "usage: make replay-dead-letters SERVICE=<service> [ID=<event id>]"; exit 2; }
	$(PY) -m tdc_shared.events.admin replay --service $(SERVICE) $(if $(NAMESPACE),--namespace $(NAMESPACE)) $(if $(ID),--id $(ID))

## make up: the same stack in containers (needs a Docker engine)
up:
	docker compose up --build

down:
	docker compose down

clean:
	rm -rf $(VENV) $(TOOLS) .run .pytest_cache .ruff_cache

## make lock: after changing any pyproject.toml
lock: $(UV)
	$(UV) lock --python $(PYTHON)
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $(VENV)/.synced
