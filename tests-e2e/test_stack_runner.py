"""What `make run` says when the database or broker is not there (one line, the setting to change)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_unreachable_database_and_broker_give_one_clear_line() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TDC_MYSQL_URL": "mysql://root:@127.0.0.1:1",
        "TDC_AMQP_URL": "amqp://guest:guest@127.0.0.1:2/",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "local" / "stack.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TDC_MYSQL_URL" in lines[0] and "TDC_AMQP_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_services_are_discovered_from_their_folders() -> None:
    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    try:
        import stack

        expected = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
        assert stack.discover_services() == expected
    finally:
        sys.path.pop(0)


def test_the_docker_fallback_compose_file_is_valid_and_matches_the_runner() -> None:
    import json

    import jsonschema
    import yaml

    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    try:
        import stack
    finally:
        sys.path.pop(0)
    document = yaml.safe_load(stack.INFRA_COMPOSE.read_text())
    schema = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())  # vendored copy
    jsonschema.Draft7Validator(schema).validate(document)
    services = document["services"]
    assert set(services) == {"mysql", "rabbitmq"}
    assert "127.0.0.1:3306:3306" in services["mysql"]["ports"]
    assert "127.0.0.1:5672:5672" in services["rabbitmq"]["ports"]
    rabbit_env = services["rabbitmq"]["environment"]
    assert stack.DOCKER_AMQP_URL.startswith(
        f"amqp://{rabbit_env['RABBITMQ_DEFAULT_USER']}:{rabbit_env['RABBITMQ_DEFAULT_PASS']}@127.0.0.1:5672"
    )


def test_a_configured_address_is_never_replaced_by_a_docker_server(monkeypatch) -> None:
    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    try:
        import stack
    finally:
        sys.path.pop(0)
    started = []
    monkeypatch.setattr(stack, "docker_engine_works", lambda: True)
    monkeypatch.setattr(stack.subprocess, "run", lambda *a, **k: started.append(a))
    env = {"TDC_MYSQL_URL": "mysql://svc:pw@127.0.0.1:1", "TDC_AMQP_URL": "amqp://guest:guest@127.0.0.1:2/"}
    problem = stack.ensure_infrastructure(env)
    assert problem is not None and "TDC_MYSQL_URL" in problem
    assert started == []
    assert env["TDC_MYSQL_URL"] == "mysql://svc:pw@127.0.0.1:1"


def test_replicas_get_ports_a_hundred_apart_and_every_one_is_a_server_in_the_table(tmp_path) -> None:
    import yaml

    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    try:
        import stack
    finally:
        sys.path.pop(0)
    services = stack.discover_services()
    one = stack.default_ports(services, 1)
    assert one == {name: port for name, port in stack.DEFAULT_PORTS.items() if name in ["gateway", *services]}
    two = stack.default_ports(services, 2)
    assert two["catalog-2"] == two["catalog"] + 100 and "catalog-3" not in two
    assert len(set(two.values())) == len(two)  # no two processes on one port
    runner = stack.Stack(env={}, ports=two, services=services, replicas=2)
    assert runner.instances("catalog") == ["catalog", "catalog-2"] and runner.instances("gateway") == ["gateway"]
    upstreams = json.loads(runner.child_env()["TDC_GATEWAY_UPSTREAMS"])
    assert upstreams["catalog"] == [f"http://127.0.0.1:{two['catalog']}", f"http://127.0.0.1:{two['catalog-2']}"]
    stack.render_table(tmp_path, runner.local_addresses())
    rendered = yaml.safe_load((tmp_path / "services.yml").read_text())["http"]["services"]
    assert [s["url"] for s in rendered["catalog"]["loadBalancer"]["servers"]] == upstreams["catalog"]
    middlewares = yaml.safe_load((tmp_path / "middlewares.yml").read_text())["http"]["middlewares"]
    addresses = [m["forwardAuth"]["address"] for m in middlewares.values() if "forwardAuth" in m]
    assert addresses and all(a.startswith(f"http://127.0.0.1:{two['gateway']}/_auth/") for a in addresses)
