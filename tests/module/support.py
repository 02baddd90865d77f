"""Helpers of the module tests: lay out the module, run its PHP hooks, find the frozen daemon.

The PHP runs on Debian's php-cli against stand-ins of MikoPBX's classes (php/standins.php);
the frozen daemon is built by mikopbx-module/packaging/freeze.sh in a bookworm root and cached.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "mikopbx-module"
PHP_DIR = Path(__file__).resolve().parent / "php"
FREEZE = MODULE / "packaging" / "freeze.sh"
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI=true, where everything must run."""
    if IN_CI:
        pytest.fail(f"unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def package() -> ModuleType:
    """mikopbx-module/packaging/package.py, imported from its path (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("module_package", MODULE / "packaging" / "package.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("module_package", loaded)
    spec.loader.exec_module(loaded)
    return loaded


def php() -> str:
    """The php-cli binary (skips locally, fails in CI, when absent)."""
    found = shutil.which("php")
    if found is None:
        unavailable("php-cli is not installed (.ci/system-deps.sh installs it)")
    return str(found)


def stage(modules_dir: Path, frozen: Path | None = None) -> Path:
    """The module's folder as the zip unpacks it: <modules_dir>/ModuleCrmConnector."""
    pkg = package()
    return pkg.stage(modules_dir / "ModuleCrmConnector", frozen, pkg.version())


def run_hooks(modules_dir: Path, **options: Any) -> dict[str, Any]:
    """Run php/hooks.php on the staged module; its JSON output (see hooks.php for the options)."""
    data = {
        "modules_dir": str(modules_dir),
        "pbx_settings": {"AMIPort": "5038", "PBXTimezone": "Europe/Moscow"},
        "dirs": {
            "core.logsDir": str(modules_dir.parent / "log"),
            "asterisk.astlogdir": str(modules_dir.parent / "astlogs"),
            "asterisk.monitordir": str(modules_dir.parent / "monitor"),
        },
    }
    data.update(options)
    request = modules_dir.parent / "hooks-input.json"
    request.write_text(json.dumps(data), encoding="utf-8")
    result = subprocess.run(
        [php(), str(PHP_DIR / "hooks.php"), str(request)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **options.get("env", {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def frozen_bundle() -> Path:
    """The PyInstaller bundle of the daemon (built in the bookworm root on first use, then cached)."""
    if os.geteuid() != 0:
        unavailable("freezing needs root (debootstrap and chroot)")
    result = subprocess.run(["bash", str(FREEZE)], capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        unavailable(f"freeze.sh failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def glibc_needs(paths: list[Path]) -> dict[str, tuple[int, ...]]:
    """Per ELF file: the highest GLIBC_x.y version it needs (readelf's version-needs section)."""
    needs: dict[str, tuple[int, ...]] = {}
    for path in paths:
        result = subprocess.run(
            ["readelf", "-V", "--wide", str(path)], capture_output=True, text=True, check=False
        )
        _, _, needed = result.stdout.partition("Version needs section")
        versions = [tuple(int(p) for p in v.split(".")) for v in re.findall(r"Name: GLIBC_([0-9.]+)", needed)]
        if versions:
            needs[str(path)] = max(versions)
    return needs


def extract(zip_path: Path, modules: Path) -> Path:
    """Unzip as MikoPBX does (entry by entry into custom_modules/ModuleCrmConnector), modes kept."""
    target = modules / "ModuleCrmConnector"
    target.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            archive.extract(info, target)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                (target / info.filename).chmod(mode)
    return modules


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
