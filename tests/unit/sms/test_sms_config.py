"""SMS from the YAML: the password from the environment, checked limits, the sender run with the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from adapters.builtin.routes import mount
from adapters.builtin.sms_service import SMS_KEY
from connector import config
from connector.api.app import create_app
from connector.errors import ConfigError


def _load(tmp_path: Path, sms: dict[str, Any], environ: dict[str, str] | None = None) -> config.Settings:
    data = {
        "ami": {"username": "u", "secret": "s"},
        "storage": {"dir": str(tmp_path), "recordings_dir": str(tmp_path / "monitor")},
        "adapters": {"builtin": {"enabled": True, "sms": sms}},
    }
    return config.loads(yaml.safe_dump(data), "<test>", environ=environ or {})


async def test_sms_settings_load_and_the_sender_runs_while_the_app_runs(tmp_path: Path) -> None:
    sms = {"enabled": True, "login": "crm", "password": "${SMSC_PASSWORD}", "sender": "Shop", "rate": 5}
    settings = _load(tmp_path, sms, {"SMSC_PASSWORD": "s3cret"})
    options = settings.adapters["builtin"].sms
    assert options.password.get() == "s3cret" and "s3cret" not in repr(options)
    app = create_app(settings.http)
    mount(app, settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert app[SMS_KEY].sender is not None and app[SMS_KEY].sender.pacer.interval == 0.2
    finally:
        await runner.cleanup()
    assert app[SMS_KEY].sender is None


@pytest.mark.parametrize(
    ("sms", "message"),
    [
        ({"enabled": True, "login": "crm"}, "login and password"),
        ({"status_interval": 5}, "status_interval"),
        ({"missed_call": {"hours": "9-21"}}, "hours"),
    ],
)
def test_bad_sms_settings_stop_the_start_with_the_reason(
    tmp_path: Path, sms: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, sms)
