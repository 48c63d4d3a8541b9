from __future__ import annotations

import pytest
from pydantic import ValidationError

from tdc_shared.settings import ServiceSettings


def test_dev_accepts_the_laptop_defaults() -> None:
    settings = ServiceSettings(env="dev")
    assert settings.mysql_url.startswith("mysql://root:@")


def test_prod_refuses_default_credentials() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ServiceSettings(env="prod")
    assert "TDC_MYSQL_URL" in str(excinfo.value) and "TDC_AMQP_URL" in str(excinfo.value)


def test_prod_loads_with_real_credentials() -> None:
    settings = ServiceSettings(
        env="prod", mysql_url="mysql://catalog:s3cret@db:3306", amqp_url="amqp://tdc:s3cret@mq:5672/"
    )
    assert settings.env == "prod"


def test_settings_come_from_tdc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TDC_DB_PREFIX", "stage_")
    monkeypatch.setenv("TDC_DB_POOL_SIZE", "7")
    settings = ServiceSettings()
    assert settings.schema_for("catalog") == "stage_catalog"
    assert settings.db_pool_size == 7


@pytest.mark.parametrize("prefix", ["bad-prefix", "x; DROP DATABASE y", "a" * 41])
def test_schema_prefix_must_be_an_identifier(prefix: str) -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(db_prefix=prefix)


@pytest.mark.parametrize("size", [0, 33])
def test_pool_size_is_bounded(size: int) -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(db_pool_size=size)
