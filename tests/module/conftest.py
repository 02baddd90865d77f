"""Fixtures of the MikoPBX module tests: the staged module, the frozen daemon, the zip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pbx.conftest import asterisk_root, pbx_harness

from . import support

# The real-Asterisk harness of tests/pbx, for test_module_pbx.py (a session of its own here).
__all__ = ["asterisk_root", "pbx_harness"]


@pytest.fixture
def modules_dir(tmp_path: Path) -> Path:
    """custom_modules/ with ModuleCrmConnector laid out as the zip unpacks it (no frozen daemon)."""
    modules = tmp_path / "custom_modules"
    support.stage(modules)
    return modules


@pytest.fixture(scope="session")
def frozen() -> Path:
    """The frozen daemon (one-folder PyInstaller bundle), built once and cached."""
    return support.frozen_bundle()


@pytest.fixture(scope="session")
def module_zip(frozen: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/ModuleCrmConnector-<version>.zip as `make module` builds it."""
    work = tmp_path_factory.mktemp("module-build")
    built: Path = support.package().build(frozen, work / "dist", work / "stage")
    return built


@pytest.fixture(scope="session")
def unzipped(module_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """custom_modules/ with the zip extracted the way MikoPBX does (entry by entry, modes kept)."""
    return support.extract(module_zip, tmp_path_factory.mktemp("installed") / "custom_modules")
