"""A damaged, vanished or swapped outbox stops start-up instead of quietly starting afresh.

Each fault is made on a real SQLite file with 60 journalled calls, as an unlucky operator (or a
full disk, or a restore gone wrong) would leave it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from connector.api.health import HealthSources
from connector.errors import StorageError
from connector.sync.integrity import marker_path
from connector.sync.outbox import Outbox
from tests.unit.service.daemon import ROOT, START_LIMIT, free_port, write_config

from .conftest import make_call

CALLS = 60


async def filled(path: Path) -> None:
    outbox = await Outbox.open(path)
    try:
        for n in range(CALLS):
            await outbox.record_call(make_call(f"1700000000.{n}", minutes=n), [])
    finally:
        await outbox.close()


def remove_with_wal(path: Path) -> None:
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


async def count(path: Path) -> int:
    outbox = await Outbox.open(path)
    try:
        return int((await outbox.db.fetch("SELECT count(*) FROM calls"))[0][0])
    finally:
        await outbox.close()


async def test_an_outbox_truncated_to_0_bytes_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    path.write_bytes(b"")
    with pytest.raises(StorageError, match="truncated to 0 bytes"):
        await Outbox.open(path)
    assert path.stat().st_size == 0  # not made into a fresh, empty outbox


async def test_a_vanished_outbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    remove_with_wal(path)
    with pytest.raises(StorageError, match="vanished"):
        await Outbox.open(path)
    assert not path.exists()


async def test_zeroed_pages_are_refused_as_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : len(data) - page] = bytes(len(data) - 2 * page)  # all but the header and last page
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="corrupted"):
        await Outbox.open(path)


async def test_another_outbox_put_in_its_place_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    other = tmp_path / "other" / "outbox.db"
    await filled(other)
    shutil.copy(other, path)
    with pytest.raises(StorageError, match="not the file this connector was using"):
        await Outbox.open(path)


async def test_an_outbox_from_before_the_marker_gets_one_and_keeps_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    marker_path(path).unlink()
    assert await count(path) == CALLS
    assert marker_path(path).exists()


async def test_moving_file_and_marker_aside_starts_afresh_on_purpose(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    path.write_bytes(b"")
    marker_path(path).rename(tmp_path / "aside.id")
    assert await count(path) == 0


async def test_health_reports_an_outbox_removed_while_running(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    outbox = await Outbox.open(path)
    try:
        health = HealthSources(stage="running", outbox=outbox)
        assert not [p for p in (await health.report())["problems"] if "outbox" in p]
        path.unlink()
        report = await health.report()
    finally:
        await outbox.close()
    assert report["status"] == "unhealthy"
    assert any("was removed" in problem for problem in report["problems"])


async def run_daemon(tmp_path: Path) -> tuple[int, str]:
    """`crm-connector run` until it exits by itself: its exit code and log."""
    config = write_config(tmp_path, ami_port=free_port(), username="crm", http_port=free_port())
    log = tmp_path / "daemon.log"
    env = {**os.environ, "AMI_SECRET": "s3cret"}
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "connector.cli", "run", "-c", str(config), cwd=ROOT, env=env, stderr=err
        )
    try:
        async with asyncio.timeout(START_LIMIT):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return code, log.read_text(encoding="utf-8")


async def test_the_daemon_refuses_a_truncated_outbox_with_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.db"
    await filled(path)
    path.write_bytes(b"")
    code, log = await run_daemon(tmp_path)
    assert (code, "truncated to 0 bytes" in log, "Traceback" in log) == (3, True, False)


async def test_the_daemon_refuses_a_storage_dir_that_is_a_file_with_exit_3(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder", encoding="utf-8")
    code, log = await run_daemon(tmp_path)
    assert (code, "is a file, not a directory" in log, "Traceback" in log) == (3, True, False)
