"""The adapters.amocrm YAML section: documented example loads, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import config
from connector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "connector.example.yaml"
BASE = "ami:\n  username: crm\n  secret: s3cret\nadapters:\n  amocrm:\n"


def test_example_section_loads_disabled() -> None:
    settings = config.load(EXAMPLE, environ={})
    assert settings.adapters["amocrm"].enabled is False


def test_example_maps_a_did_to_its_pipeline() -> None:
    amocrm = config.load(EXAMPLE, environ={}).adapters["amocrm"]
    assert amocrm.line("+74951110001").pipeline_id == 1234567
    assert amocrm.line("74950000000").did == "*"


def test_enabled_without_domain_is_refused() -> None:
    with pytest.raises(ConfigError, match="domain is required"):
        config.loads(BASE + "    enabled: true\n")


def test_oauth_without_client_secret_is_refused() -> None:
    text = (
        BASE
        + "    enabled: true\n    domain: x.amocrm.ru\n    auth:\n      client_id: id\n      redirect_uri: https://a\n"
    )
    with pytest.raises(ConfigError, match="client_secret"):
        config.loads(text)


def test_unknown_responsible_rule_names_the_choices() -> None:
    text = BASE + "    responsible:\n      missed_known: boss\n"
    with pytest.raises(ConfigError, match=r"adapters\.amocrm\.responsible\.missed_known: must be one of"):
        config.loads(text)


def test_misspelt_option_gets_a_hint() -> None:
    with pytest.raises(ConfigError, match="did you mean 'log_as'"):
        config.loads(BASE + "    log_us: calls\n")


def test_widget_enabled_without_token_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"widget\.token is required"):
        config.loads(BASE + "    widget:\n      enabled: true\n")
