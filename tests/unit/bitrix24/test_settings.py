"""The `adapters.bitrix24` YAML section: the example loads, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.bitrix24 import Settings
from connector import config
from connector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "connector.example.yaml"
MINIMAL = "ami:\n  username: crm\n  secret: s3cret\nadapters:\n  bitrix24:\n"


def test_example_section_loads_disabled_with_its_documented_values() -> None:
    settings = config.load(EXAMPLE, environ={})
    section = settings.adapters["bitrix24"]
    assert isinstance(section, Settings)
    assert (section.enabled, section.rate_limit.rate, section.rate_limit.burst) == (False, 2.0, 50)
    assert section.entities.contact_name == "Без имени"


def test_enabled_webhook_needs_a_webhook_url() -> None:
    with pytest.raises(ConfigError, match="webhook_url must look like"):
        config.loads(MINIMAL + "    enabled: true\n")


def test_enabled_oauth_names_the_missing_credentials() -> None:
    with pytest.raises(ConfigError, match="oauth needs portal, client_id, client_secret, refresh_token"):
        config.loads(MINIMAL + "    enabled: true\n    auth: oauth\n")


def test_unknown_open_card_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="open_card"):
        config.loads(MINIMAL + "    open_card: always\n")


def test_webhook_url_is_a_secret() -> None:
    url = "https://example.bitrix24.ru/rest/1/abcdefgh123/"
    settings = config.loads(MINIMAL + f"    enabled: true\n    webhook_url: {url}\n")
    assert url in settings.secrets()


def test_employee_user_id_must_be_a_portal_id() -> None:
    yaml = MINIMAL + "    employees:\n      - extension: '201'\n        user_id: ivanov\n"
    with pytest.raises(ConfigError, match="must be a portal user id"):
        config.loads(yaml)
