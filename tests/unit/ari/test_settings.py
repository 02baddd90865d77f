"""The `ari:` section: defaults keep AMI in charge, ARI needs credentials once used, and bad
values are named with their key."""

from __future__ import annotations

import pytest

from connector import config
from connector.errors import ConfigError

MINIMAL = "ami:\n  username: crm\n  secret: s3cret\n"


def test_absent_section_means_ami_for_events_and_control() -> None:
    ari = config.loads(MINIMAL).ari
    assert (ari.events, ari.control, ari.used) == ("ami", "ami", False)


def test_password_from_the_environment_never_shows() -> None:
    text = MINIMAL + "ari:\n  username: crm\n  password: ${ARI_PASSWORD}\n  events: ari\n"
    settings = config.loads(text, environ={"ARI_PASSWORD": "pa55word"})
    assert settings.ari.password.get() == "pa55word" and "pa55word" not in repr(settings.ari)
    assert "pa55word" in settings.secrets()
    assert (
        settings.ari.events_url("7-1")
        == "ws://127.0.0.1:8088/ari/events?app=crm-connector-7-1&subscribeAll=true"
    )


@pytest.mark.parametrize(
    ("section", "found"),
    [
        ("  events: ari\n", "username and password are required"),
        ("  control: ari\n  username: crm\n", "username and password are required"),
        ("  events: both\n", "ari.events"),
        ("  url: ftp://pbx/ari\n", "must be http(s)://host:port/ari"),
        ("  app: 'crm connector'\n", "app must be a name"),
        ("  ping_timeout: 0\n", "more than 0"),
        ("  reconnect_min: 5\n  reconnect_max: 1\n", "reconnect_min"),
    ],
)
def test_bad_values_are_named(section: str, found: str) -> None:
    with pytest.raises(ConfigError, match=found.replace("(", r"\(").replace(")", r"\)")):
        config.loads(MINIMAL + "ari:\n" + section)
