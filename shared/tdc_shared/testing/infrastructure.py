"""Where the tests find MySQL and RabbitMQ, in this order:

1. URLs from the environment (`TDC_TEST_MYSQL_URL` / `TDC_MYSQL_URL`, `TDC_TEST_AMQP_URL` / `TDC_AMQP_URL`);
2. local servers on the standard ports;
3. throwaway containers through testcontainers (MySQL 8.4, RabbitMQ 3.13) where Docker works.

Otherwise the run stops with a message naming what to start: a database test is never
skipped silently.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..probe import answers

LOCAL_MYSQL = "mysql://root:@127.0.0.1:3306"
LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


class InfrastructureMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Infrastructure:
    mysql_url: str
    amqp_url: str
    origin: str


def docker_works() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _from_env(*names: str) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextlib.contextmanager
def provide() -> Iterator[Infrastructure]:
    mysql_url = _from_env("TDC_TEST_MYSQL_URL", "TDC_MYSQL_URL")
    amqp_url = _from_env("TDC_TEST_AMQP_URL", "TDC_AMQP_URL")
    if mysql_url is None and answers(LOCAL_MYSQL, 3306):
        mysql_url = LOCAL_MYSQL
    if amqp_url is None and answers(LOCAL_AMQP, 5672):
        amqp_url = LOCAL_AMQP
    if mysql_url and amqp_url:
        yield Infrastructure(mysql_url, amqp_url, "configured or local servers")
        return
    if not docker_works():
        missing = [
            name
            for name, url in (("MySQL/MariaDB on 127.0.0.1:3306", mysql_url), ("RabbitMQ on 127.0.0.1:5672", amqp_url))
            if not url
        ]
        raise InfrastructureMissing(
            "tests need real servers: start "
            + " and ".join(missing)
            + " (or set TDC_TEST_MYSQL_URL / TDC_TEST_AMQP_URL, or make a Docker engine available)"
        )
    with contextlib.ExitStack() as stack:
        if mysql_url is None:
            from testcontainers.mysql import MySqlContainer

            mysql = stack.enter_context(MySqlContainer("mysql:8.4", root_password="test"))  # noqa: S106 (throwaway container)
            # TLS: MySQL 8's caching_sha2_password refuses a password login over a plain connection
            # until the server has cached that account, which a fresh container has not.
            host, port = mysql.get_container_host_ip(), mysql.get_exposed_port(3306)
            mysql_url = f"mysql://root:test@{host}:{port}?ssl=required"
        if amqp_url is None:
            from testcontainers.rabbitmq import RabbitMqContainer

            rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-management"))
            amqp_url = f"amqp://guest:guest@{rabbit.get_container_host_ip()}:{rabbit.get_exposed_port(5672)}/"
        yield Infrastructure(mysql_url, amqp_url, "testcontainers")
