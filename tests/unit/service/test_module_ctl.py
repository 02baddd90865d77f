"""The MikoPBX module's supervisor (mikopbx-module/bin/crm-connector-ctl) with the real daemon.

Cron runs `ensure` every minute. A daemon that refused to run on a damaged outbox (exit 3) must
not be started again and again: the refusal would drown in a loop, as systemd's
RestartPreventExitStatus avoids for the unit. A crash (any other code) is still restarted, and a
start by hand always tries again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from connector.service import EXIT_STORAGE
from tests.unit.service.daemon import ROOT, free_port, write_config

CTL = ROOT / "mikopbx-module" / "bin" / "crm-connector-ctl"
DAEMON = Path(sys.executable).with_name("crm-connector")  # the venv's entry point: "crm-connector … run"


def ctl(action: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_CONNECTOR_BIN": str(DAEMON), "AMI_SECRET": "s3cret"}
    return subprocess.run(
        ["/bin/sh", str(CTL), action, str(config), str(config.parent / "log")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def until_exited(config: Path) -> str:
    """The exit code the watcher kept (polled: the daemon is another process), within 30 s."""
    path = config.parent / "crm-connector.exit"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").strip():
            return path.read_text(encoding="utf-8").strip()
        time.sleep(0.1)
    raise AssertionError("the daemon did not exit")


def starts(config: Path) -> int:
    return (
        (config.parent / "log" / "daemon.log").read_text(encoding="utf-8").count("is a file, not a directory")
    )


def test_cron_does_not_restart_a_daemon_that_refused_a_damaged_storage(tmp_path: Path) -> None:
    config = write_config(tmp_path, ami_port=free_port(), username="crm", http_port=free_port())
    (tmp_path / "state").write_text("not a folder", encoding="utf-8")  # storage.dir unusable
    assert ctl("start", config).returncode == 0
    assert until_exited(config) == str(EXIT_STORAGE)
    ensured = ctl("ensure", config)
    assert (ensured.returncode, "exit 3" in ensured.stderr) == (EXIT_STORAGE, True)
    assert ctl("status", config).returncode == 1
    assert starts(config) == 1  # cron did not run it again
    assert ctl("start", config).returncode == 0  # by hand: tried again
    assert until_exited(config) == str(EXIT_STORAGE)
    assert starts(config) == 2


def test_cron_restarts_a_daemon_that_died_otherwise(tmp_path: Path) -> None:
    config = write_config(tmp_path, ami_port=free_port(), username="crm", http_port=free_port())
    try:
        assert ctl("start", config).returncode == 0
        pid = int((tmp_path / "crm-connector.pid").read_text(encoding="utf-8"))
        assert ctl("status", config).returncode == 0
        os.kill(pid, 9)
        assert until_exited(config) == "137"
        assert ctl("ensure", config).returncode == 0
        assert ctl("status", config).returncode == 0
        assert int((tmp_path / "crm-connector.pid").read_text(encoding="utf-8")) != pid
    finally:
        ctl("stop", config)
