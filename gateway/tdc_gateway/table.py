"""The routing table: a Traefik v3 file-provider dynamic configuration, read the way Traefik reads it.

Every `*.yml`/`*.yaml` of the directory is merged (files in name order; an element defined
twice keeps its first definition, with a warning, as Traefik's file provider does). Routers
are ordered by priority, which defaults to the length of the rule: with one `PathPrefix`
per router that is "longest prefix wins", in Traefik and here alike.

What the gateway takes from each router, resolved once at load time:
- its policy, from the `forwardAuth` middleware whose address ends in `/_auth/<policy>`;
- a `rateLimit` (per client), a `retry` (idempotent methods only), a `buffering`
  `maxRequestBodyBytes` (the upload limit);
- its service's server URLs (every server of the `loadBalancer`: the gateway balances across
  them) and its `serversTransport` timeouts (`dialTimeout`, `responseHeaderTimeout`), so
  timeouts are per route: give a route its own service when it needs a different one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

log = logging.getLogger(__name__)

POLICIES = ("public", "user", "staff", "admin", "sl-signature", "webhook-signature")
GATEWAY_SERVICE = "gateway"

_MATCHER = re.compile(r"\s*(PathPrefix|Path)\(\s*(?:`([^`]*)`|\"([^\"]*)\")\s*\)\s*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class RoutingTableError(ValueError):
    """The dynamic configuration cannot be served; the message names the element at fault."""


@dataclass(frozen=True)
class RateLimit:
    amount: int
    window_seconds: int


@dataclass(frozen=True)
class Route:
    router: str
    service: str
    servers: tuple[str, ...]  # base URLs without a trailing slash; () for the gateway's own routes
    policy: str
    priority: int
    exact: tuple[str, ...]
    prefixes: tuple[str, ...]
    connect_timeout: float
    response_timeout: float
    retry_attempts: int
    retry_interval: float
    rate_limit: RateLimit | None
    max_body: int

    @property
    def local(self) -> bool:
        return self.service == GATEWAY_SERVICE

    @property
    def upstream(self) -> str:
        """The service's first server: what the gateway's own calls (OpenAPI, dashboard) ask."""
        return self.servers[0] if self.servers else ""

    def matches(self, path: str) -> bool:
        if path in self.exact:
            return True
        return any(path.startswith(prefix) for prefix in self.prefixes)


class RoutingTable:
    # Routes are bucketed by the first BUCKET characters of their paths, so a request checks a
    # handful of candidates instead of every router (the order inside a bucket stays Traefik's).
    BUCKET = 12

    def __init__(self, routes: Iterable[Route]) -> None:
        # Traefik sorts by priority, highest first; ties broken by name for a stable order.
        self.routes: tuple[Route, ...] = tuple(sorted(routes, key=lambda r: (-r.priority, r.router)))
        keyed: dict[str, set[str]] = {}
        short: set[str] = set()
        for route in self.routes:
            for path in (*route.exact, *route.prefixes):
                if len(path) >= self.BUCKET:
                    keyed.setdefault(path[: self.BUCKET], set()).add(route.router)
                else:
                    short.add(route.router)
        self._short = tuple(r for r in self.routes if r.router in short)
        self._buckets = {
            key: tuple(r for r in self.routes if r.router in names or r.router in short) for key, names in keyed.items()
        }

    def match(self, path: str) -> Route | None:
        for route in self._buckets.get(path[: self.BUCKET], self._short):
            if route.matches(path):
                return route
        return None

    def upstreams(self) -> dict[str, str]:
        """Service name -> base URL of its first server, for every proxied service."""
        return {r.service: r.upstream for r in self.routes if not r.local}

    def servers(self) -> dict[str, tuple[str, ...]]:
        """Service name -> base URLs of all its servers (replicas), for every proxied service."""
        return {r.service: r.servers for r in self.routes if not r.local}


def parse_duration(value: Any, what: str) -> float:
    """A Go duration ("1m30s", "500ms") or a number of seconds, as Traefik accepts them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    raise RoutingTableError(f"{what}: {value!r} is not a duration")


def parse_rule(rule: str, router: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    exact: list[str] = []
    prefixes: list[str] = []
    for part in rule.split("||"):
        found = _MATCHER.fullmatch(part)
        if not found:
            raise RoutingTableError(
                f"router {router}: rule {rule!r} uses more than Path/PathPrefix joined by '||', "
                "which the gateway does not evaluate"
            )
        kind, value = found.group(1), found.group(2) if found.group(2) is not None else found.group(3)
        if not value.startswith("/"):
            raise RoutingTableError(f"router {router}: path {value!r} must start with '/'")
        (exact if kind == "Path" else prefixes).append(value)
    return tuple(exact), tuple(prefixes)


def load_documents(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    if not directory.is_dir():
        raise RoutingTableError(f"routes directory {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    if not files:
        raise RoutingTableError(f"no *.yml file in routes directory {directory}")
    documents = []
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RoutingTableError(f"{path.name}: not valid YAML: {exc}") from exc
        if not isinstance(document, dict):
            raise RoutingTableError(f"{path.name}: the top level must be a mapping")
        documents.append((path.name, document))
    return documents


def merge(documents: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Merge the `http` sections; the first definition of a name wins, like Traefik's file provider."""
    merged: dict[str, dict[str, Any]] = {"routers": {}, "services": {}, "middlewares": {}, "serversTransports": {}}
    for filename, document in documents:
        http = document.get("http") or {}
        for section, elements in merged.items():
            for name, element in (http.get(section) or {}).items():
                if name in elements:
                    log.warning("%s %s already configured, skipping the one in %s", section, name, filename)
                    continue
                elements[name] = element
    return merged


def _local_name(reference: str) -> str:
    # "policy-user@file" -> "policy-user": we only read the file provider.
    return reference.split("@", 1)[0]


class _Builder:
    def __init__(
        self,
        http: dict[str, dict[str, Any]],
        overrides: Mapping[str, str | list[str]],
        defaults: Mapping[str, Any],
    ):
        self.http = http
        self.overrides = overrides
        self.defaults = defaults

    def middlewares(
        self, names: Iterable[str], router: str, seen: tuple[str, ...] = ()
    ) -> list[tuple[str, dict[str, Any]]]:
        """The router's middlewares with chains expanded, in order."""
        out: list[tuple[str, dict[str, Any]]] = []
        for reference in names:
            name = _local_name(reference)
            if name in seen:
                raise RoutingTableError(f"router {router}: middleware chain loops through {name}")
            middleware = self.http["middlewares"].get(name)
            if middleware is None:
                raise RoutingTableError(f"router {router}: unknown middleware {name}")
            if "chain" in middleware:
                out += self.middlewares(middleware["chain"].get("middlewares", []), router, (*seen, name))
            else:
                out.append((name, middleware))
        return out

    def servers(self, service_name: str, router: str) -> tuple[str, ...]:
        service = self.http["services"].get(service_name)
        if service is None:
            raise RoutingTableError(f"router {router}: unknown service {service_name}")
        servers = (service.get("loadBalancer") or {}).get("servers") or []
        if not servers or not all(isinstance(s, dict) and s.get("url") for s in servers):
            raise RoutingTableError(f"service {service_name}: the gateway needs a loadBalancer with server urls")
        urls = [str(s["url"]) for s in servers]
        # An override names the service or the host of its (first) server; a list: one URL per replica.
        override = self.overrides.get(service_name) or self.overrides.get(urlsplit(urls[0]).hostname or "")
        if override:
            urls = [override] if isinstance(override, str) else list(override)
        urls = [url.rstrip("/") for url in urls]
        paths = {urlsplit(url).path for url in urls}
        if len(paths) > 1:
            raise RoutingTableError(f"service {service_name}: its servers must share one base path: {sorted(paths)}")
        return tuple(urls)

    def transport(self, service_name: str) -> tuple[float, float]:
        service = self.http["services"].get(service_name) or {}
        name = (service.get("loadBalancer") or {}).get("serversTransport")
        connect = self.defaults["connect_timeout"]
        response = self.defaults["response_timeout"]
        if name:
            transport = self.http["serversTransports"].get(_local_name(name))
            if transport is None:
                raise RoutingTableError(f"service {service_name}: unknown serversTransport {name}")
            timeouts = transport.get("forwardingTimeouts") or {}
            if "dialTimeout" in timeouts:
                connect = parse_duration(timeouts["dialTimeout"], f"serversTransport {name} dialTimeout")
            if "responseHeaderTimeout" in timeouts:
                response = parse_duration(
                    timeouts["responseHeaderTimeout"], f"serversTransport {name} responseHeaderTimeout"
                )
        return connect, response

    def route(self, name: str, router: dict[str, Any]) -> Route:
        rule = router.get("rule")
        service = router.get("service")
        if not isinstance(rule, str) or not isinstance(service, str):
            raise RoutingTableError(f"router {name}: needs a rule and a service")
        service = _local_name(service)
        exact, prefixes = parse_rule(rule, name)
        policy = None
        rate_limit = None
        retry_attempts, retry_interval = 0, 0.1
        max_body = self.defaults["max_body"]
        for mw_name, middleware in self.middlewares(router.get("middlewares") or [], name):
            if "forwardAuth" in middleware:
                address = str(middleware["forwardAuth"].get("address", ""))
                path = urlsplit(address).path.rstrip("/")
                candidate = path.rsplit("/", 1)[-1]
                if not path.startswith("/_auth/") or candidate not in POLICIES:
                    raise RoutingTableError(f"middleware {mw_name}: forwardAuth address must end in /_auth/<policy>")
                if policy is not None:
                    raise RoutingTableError(f"router {name}: more than one access policy")
                policy = candidate
            elif "rateLimit" in middleware:
                rate_limit = _rate_limit(middleware["rateLimit"], mw_name)
            elif "retry" in middleware:
                retry_attempts = int(middleware["retry"].get("attempts", 0))
                if "initialInterval" in middleware["retry"]:
                    retry_interval = parse_duration(middleware["retry"]["initialInterval"], f"middleware {mw_name}")
            elif "buffering" in middleware and "maxRequestBodyBytes" in middleware["buffering"]:
                max_body = int(middleware["buffering"]["maxRequestBodyBytes"])
        if policy is None:
            raise RoutingTableError(f"router {name}: names no access policy (a forwardAuth to /_auth/<policy>)")
        servers: tuple[str, ...] = ()
        if service == GATEWAY_SERVICE:
            connect, response = 0.0, 0.0
        else:
            servers, (connect, response) = self.servers(service, name), self.transport(service)
        return Route(
            router=name,
            service=service,
            servers=servers,
            policy=policy,
            priority=int(router.get("priority") or len(rule)),
            exact=exact,
            prefixes=prefixes,
            connect_timeout=connect,
            response_timeout=response,
            retry_attempts=max(0, retry_attempts - 1),  # Traefik counts the first try as an attempt
            retry_interval=retry_interval,
            rate_limit=rate_limit,
            max_body=max_body,
        )


def _rate_limit(config: dict[str, Any], name: str) -> RateLimit | None:
    average = float(config.get("average") or 0)
    if average <= 0:
        return None  # Traefik: 0 means no limit
    period = parse_duration(config.get("period", 1), f"middleware {name} period")
    burst = int(config.get("burst") or 1)
    # Traefik's token bucket refills `average` per `period` and holds `burst`; a window of
    # max(burst, average) requests keeps both the long-run rate and the burst.
    amount = max(burst, int(average))
    return RateLimit(amount=amount, window_seconds=max(1, round(period * amount / average)))


def load_table(
    directory: Path,
    overrides: Mapping[str, str | list[str]] | None = None,
    *,
    connect_timeout: float = 1.0,
    response_timeout: float = 30.0,
    max_body: int = 20 * 1024 * 1024,
) -> RoutingTable:
    http = merge(load_documents(directory))
    builder = _Builder(
        http,
        overrides or {},
        {"connect_timeout": connect_timeout, "response_timeout": response_timeout, "max_body": max_body},
    )
    routes = [builder.route(name, router) for name, router in http["routers"].items()]
    # A catch-all router to the gateway (`PathPrefix(`/`)`) is for a Traefik in front: it brings
    # paths no other router takes to the gateway, whose answer to them is the 404 envelope. The
    # gateway gives that answer to an unmatched path itself, without a route.
    return RoutingTable(r for r in routes if not (r.local and r.prefixes == ("/",) and not r.exact))
