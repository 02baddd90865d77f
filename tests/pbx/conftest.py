"""Fixtures for the real-Asterisk tests: one harness (two Asterisk instances) per session.

Tests that use it need ``@pytest.mark.pbx`` and the session event loop, e.g.::

    pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

Without root (or when the root cannot be built) the tests skip, except under CI=true, where
they fail: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from .harness import Harness, HarnessError, build_root
from .scenarios import LiveCaptures

IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    """Skip locally; fail loudly in CI, where the harness must run."""
    if IN_CI:
        pytest.fail(f"PBX harness unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"PBX harness unavailable: {reason}")


@pytest.fixture(scope="session")
def asterisk_root() -> Path:
    """The cached Debian sid root with Asterisk (built on first use, ~1 min)."""
    if os.geteuid() != 0:
        _unavailable("needs root (debootstrap and chroot)")
    if shutil.which("chroot") is None:
        _unavailable("no chroot binary")
    try:
        return build_root()
    except HarnessError as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable always raises


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pbx_harness(asterisk_root: Path) -> AsyncIterator[Harness]:
    """Both Asterisk instances, started once per session and always stopped."""
    # A CI timeout sends SIGTERM, which by default ends Python without any cleanup; as a
    # KeyboardInterrupt it lets pytest run this teardown. (kill -9 is handled by the next
    # session, which reaps sessions whose owner is gone.)
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    harness = await Harness.start(asterisk_root)
    try:
        yield harness
    finally:
        await harness.stop()
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pbx_captures(pbx_harness: Harness) -> LiveCaptures:
    """Live captures shared by every test of the session (see LiveCaptures)."""
    return LiveCaptures(pbx_harness)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mikopbx_harness(asterisk_root: Path) -> AsyncIterator[Harness]:
    """The harness with the PBX in the mikopbx profile (MikoPBX's dialplan), once per session."""
    harness = await Harness.start(asterisk_root, profile="mikopbx")
    try:
        yield harness
    finally:
        await harness.stop()
