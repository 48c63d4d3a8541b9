"""The running stack for black-box tests: started as `make run` starts it, on fresh schemas.

Each run gets its own schema prefix, bus namespace and free ports, so it never touches what
`make run` created and can run beside it. Journeys talk to `stack.url` (the gateway) only.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_stack_module():
    spec = importlib.util.spec_from_file_location("tdc_local_stack", ROOT / "deploy" / "local" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


stack_module = _load_stack_module()


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

    def service_url(self, name: str) -> str:
        return self._stack.service_url(name)


@pytest.fixture(scope="session")
def stack(mysql_url: str, amqp_url: str, db_prefix: str, tmp_path_factory) -> Iterator[RunningStack]:
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
        }
    )
    names = ["gateway", *stack_module.discover_services()]
    ports = {name: stack_module.free_port() for name in names}
    log_file = tmp_path_factory.mktemp("stack") / "stack.log"
    stack = stack_module.Stack(env=env, ports=ports, echo=False, log_file=log_file)
    stack.start()
    try:
        stack.wait_ready()
    except RuntimeError as exc:
        stack.stop()
        tail = log_file.read_text(errors="replace")[-4000:] if log_file.exists() else ""
        pytest.fail(f"the stack did not start: {exc}\n{tail}")
    yield RunningStack(stack, amqp_url, namespace, admin_email, admin_password)
    stack.stop()
