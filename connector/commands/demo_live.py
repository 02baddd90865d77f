"""`crm-connector demo --live`: the demo against the real Asterisk 22 of the test harness.

The harness (tests/pbx, in the repository) starts the PBX and a "world" Asterisk playing phones
and the provider, both in the cached Debian sid root that `make pbx-root` builds. The daemon
connects to the PBX's AMI as in production, while the scenarios of the harness's catalogue are
played on it in turn: real SIP calls, real recordings.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

from connector import logs
from connector.commands.demo import ROOT, announce, demo_settings

log = logs.get_logger(__name__)


async def run_live(args: argparse.Namespace, state: Path) -> int:
    """Start the harness, the daemon on it and the scenario driver; stop all on Ctrl-C."""
    from connector import service
    from connector.commands.demo_seed import seed

    if str(ROOT) not in sys.path:  # tests/pbx lives in the repository, not in the installed package
        sys.path.insert(0, str(ROOT))
    # Imported by name: the harness is test code, outside the typed, installed package.
    harness_module: Any = importlib.import_module("tests.pbx.harness")

    print("demo --live: starting the real Asterisk (first run builds its root: a minute or two) ...")
    try:
        harness = await harness_module.Harness.start()
    except harness_module.HarnessError as exc:
        print(f"demo --live: the PBX harness could not start: {exc}")
        return 1
    link = _host_view(harness)
    try:
        pbx = harness.pbx_instance
        settings = demo_settings(
            state,
            pbx.ami_port,
            args.port,
            http_host=args.host,
            ami_user=harness_module.AMI_USER,
            ami_secret=pbx.values["AMI_SECRET"],
            recordings_dir=harness.session_dir / "pbx" / "spool" / "monitor",
        )
        logs.configure("info", "console", settings.secrets())
        tokens = await seed(state / "builtin.db")
        source = f"real calls on Asterisk {harness.asterisk_version}"
        announce(settings, tokens, "real calls through the test Asterisk (tests/pbx)", source, args.pause)
        driver = asyncio.create_task(_drive(harness, args.pause), name="demo-live-driver")
        try:
            return await service.run(settings)
        finally:
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
    finally:
        if link is not None:
            link.unlink(missing_ok=True)
        await harness.stop()


def _host_view(harness: Any) -> Path | None:
    """Make the PBX's own paths (inside its chroot) valid on the host too, with a symlink.

    Asterisk names recordings by its inside path; on a real MikoPBX there is no chroot and the
    path is used as it is. The link (removed at exit) lets the daemon serve them the same way.
    """
    inside: Path = harness.session_dir
    if inside.exists():
        return None
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.symlink_to(harness.root / inside.relative_to("/"), target_is_directory=True)
    return inside


async def _drive(harness: Any, pause: float) -> None:
    """Play the harness's scenarios on the PBX, one after another, until cancelled."""
    scenarios: Any = importlib.import_module("tests.pbx.scenarios")
    while True:
        for scenario in scenarios.SCENARIOS.values():
            try:
                await scenarios.record(harness, scenario)
            except Exception as exc:  # isolation: one scenario failing must not end the demo
                log.warning("demo.scenario_failed", scenario=scenario.name, error=str(exc))
            # The harness logs every AMI event for its waits; nothing needs the old ones now.
            harness.pbx.events.clear()
            harness.world.events.clear()
            await asyncio.sleep(pause)
