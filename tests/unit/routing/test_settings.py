"""The `interception:` and `call_control:` sections: the example loads, mistakes name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import config
from connector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "connector.example.yaml"


def test_the_example_loads_with_interception_off_and_call_control_on() -> None:
    settings = config.load(EXAMPLE, environ={})
    assert (settings.interception.enabled, settings.call_control.enabled) == (False, True)


def test_a_bad_working_hours_line_names_the_section() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("  working_hours: []", "  working_hours: [weekdays]")
    with pytest.raises(ConfigError, match="interception: working hours 'weekdays'"):
        config.loads(text, environ={})


def test_a_bad_number_pattern_names_the_section() -> None:
    mobiles = r"- '^(\+7|7|8)9\d{9}$'"
    text = EXAMPLE.read_text(encoding="utf-8")
    assert mobiles in text
    with pytest.raises(ConfigError, match=r"call_control: number pattern '\(' is not a regular expression"):
        config.loads(text.replace(mobiles, "- '('"), environ={})


def test_the_user_map_is_read_per_adapter() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("  users: {}  ", "  users: {amocrm: {'555': '207'}}  ")
    assert config.loads(text, environ={}).interception.users == {"amocrm": {"555": "207"}}
