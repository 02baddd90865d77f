"""Logging: secrets never reach the output, context is bound per conversation."""

from __future__ import annotations

import json

import pytest
import structlog

from connector import logs


def test_secret_values_and_keys_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json", secrets=["hunter22"])
    log = logs.get_logger("t")
    log.info("ami.login", username="crm", secret="hunter22", detail="Login with hunter22 failed")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["secret"] == "***"
    assert line["detail"] == "Login with *** failed"
    assert line["username"] == "crm"


def test_context_is_bound_to_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    with structlog.contextvars.bound_contextvars(conversation="1763805600.1", adapter="amocrm"):
        logs.get_logger("t").info("delivered")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["conversation"] == "1763805600.1"
    assert line["adapter"] == "amocrm"


def test_console_format_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "console")
    logs.get_logger("t").info("hello", who="world")
    err = capsys.readouterr().err
    assert "hello" in err
    assert not err.strip().startswith("{")


def test_a_closed_log_stream_never_raises_into_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    logs.configure("info", "json")
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr("sys.stderr", closed)
    logs.get_logger("t").error("ami.lost", reason="journald went away")
    monkeypatch.undo()
    assert closed.closed
