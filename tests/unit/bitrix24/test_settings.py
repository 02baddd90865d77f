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
        config.loads(MINIMAL + "    enabled: true\n    auth: webhook\n")


def test_the_application_is_the_default_and_names_the_missing_credentials() -> None:
    # no refresh_token needed: installing the app hands the tokens to install_path
    with pytest.raises(ConfigError, match=r"oauth needs portal, client_id, client_secret$"):
        config.loads(MINIMAL + "    enabled: true\n")


def test_webhook_mode_says_what_it_cannot_do() -> None:
    url = "https://example.bitrix24.ru/rest/1/abcdefgh123/"
    settings = config.loads(MINIMAL + f"    enabled: true\n    auth: webhook\n    webhook_url: {url}\n")
    (warning,) = settings.adapters["bitrix24"].warnings()
    assert "WRONG_AUTH_TYPE" in warning and "no call history" in warning
    app = config.loads(MINIMAL + "    enabled: true\n    portal: https://e.bitrix24.ru\n    client_id: a\n"
                       "    client_secret: b\n")  # fmt: skip
    assert app.adapters["bitrix24"].warnings() == []


def test_unknown_open_card_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="open_card"):
        config.loads(MINIMAL + "    open_card: always\n")


def test_webhook_url_is_a_secret() -> None:
    url = "https://example.bitrix24.ru/rest/1/abcdefgh123/"
    settings = config.loads(MINIMAL + f"    enabled: true\n    auth: webhook\n    webhook_url: {url}\n")
    assert url in settings.secrets()


def test_employee_user_id_must_be_a_portal_id() -> None:
    yaml = MINIMAL + "    employees:\n      - extension: '201'\n        user_id: ivanov\n"
    with pytest.raises(ConfigError, match="must be a portal user id"):
        config.loads(yaml)


def test_check_config_says_what_webhook_mode_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from argparse import Namespace

    from connector.commands import check_config

    path = tmp_path / "connector.yaml"
    url = "https://example.bitrix24.ru/rest/1/abcdefgh123/"
    path.write_text(MINIMAL + f"    enabled: true\n    auth: webhook\n    webhook_url: {url}\n")
    assert check_config.main(Namespace(config=str(path), quiet=True)) == 0
    assert "warning: adapters.bitrix24: auth: webhook cannot log calls" in capsys.readouterr().err
