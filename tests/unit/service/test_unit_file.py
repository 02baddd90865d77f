"""The systemd unit: notify + watchdog + restart, a dedicated user, and a tight sandbox."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[3] / "systemd" / "crm-connector.service"


def settings() -> dict[str, list[str]]:
    """Key → every value it has in the unit (systemd allows a key more than once)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_daemon_is_supervised_by_notify_and_the_watchdog() -> None:
    unit = settings()
    assert (unit["Type"], unit["NotifyAccess"], unit["Restart"]) == (["notify"], ["main"], ["on-failure"])
    assert int(unit["WatchdogSec"][0]) > 0


def test_it_runs_as_its_own_user_with_only_its_state_directory_writable() -> None:
    unit = settings()
    assert unit["User"] == ["crm-connector"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["StateDirectory"] == ["crm-connector"]
    assert unit["ReadWritePaths"] == ["/var/lib/crm-connector"]
    assert unit["NoNewPrivileges"] == unit["PrivateTmp"] == ["yes"]


def test_stop_timeout_leaves_room_for_the_delivery_grace_period() -> None:
    assert int(settings()["TimeoutStopSec"][0]) >= 10 + 10  # outbox.shutdown_grace (10 s) + closing


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_rates_the_sandbox_ok() -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert level is not None, result.stdout + result.stderr
    assert float(level.group(1)) <= 2.0


def test_a_refusal_to_run_is_not_restarted() -> None:
    """Exit 3 (damaged or vanished outbox) and 2 (configuration) cannot be cured by a restart."""
    from connector.service import EXIT_STORAGE

    codes = " ".join(settings().get("RestartPreventExitStatus", [])).split()
    assert sorted(codes) == sorted(["2", str(EXIT_STORAGE)])
