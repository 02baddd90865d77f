"""`crm-connector backup`: a consistent copy of the outbox and the built-in CRM while they are open
and written, checked, with a manifest; a damaged file fails the backup loudly."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from adapters.builtin.store import Store
from connector.cli import main
from connector.sync.outbox import Outbox
from tests.unit.builtin.helpers import make_call


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "connector.yaml"
    path.write_text(
        "ami: {username: crm, secret: long-enough-secret}\n"
        f"storage: {{dir: {tmp_path / 'state'}}}\n"
        "adapters: {builtin: {enabled: true}}\n",
        encoding="utf-8",
    )
    return str(path)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(sql).fetchall()
    conn.close()
    return rows


async def _state_open_and_written(state: Path, config: str) -> int:
    """The daemon's files open (a writer mid-way), as while it runs; the backup made meanwhile."""
    outbox = await Outbox.open(state / "outbox.db")
    store = await Store.open(state / "builtin.db")
    try:
        await outbox.record_call(make_call("9.1", "+79160000001"), [])
        await store.clients.create("Анна", ["+79160000011"])
        code = await asyncio.to_thread(main, ["backup", "-c", config, "--to", str(state.parent / "backups")])
        await store.clients.create("Борис", ["+79160000022"])  # after the copy: not in it
    finally:
        await store.close()
        await outbox.close()
    return code


def test_a_backup_while_running_holds_every_file_checked(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = asyncio.run(_state_open_and_written(tmp_path / "state", config))
    out = capsys.readouterr().out
    (folder,) = (tmp_path / "backups").iterdir()
    names = sorted(p.name for p in folder.iterdir())
    assert (code, names) == (0, ["MANIFEST.txt", "builtin.db", "outbox.db", "outbox.db.id"])
    assert _rows(folder / "builtin.db", "SELECT name FROM clients ORDER BY id") == [("Анна",)]
    assert _rows(folder / "outbox.db", "SELECT id FROM calls") == [("9.1",)]
    manifest = (folder / "MANIFEST.txt").read_text("utf-8")
    assert "outbox.db" in manifest and manifest.count("  ok") == 2 and f"backup: {folder}" in out


def test_a_damaged_database_fails_the_backup(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    asyncio.run(_state_open_and_written(state, config))
    (state / "builtin.db-wal").unlink(missing_ok=True)
    data = bytearray((state / "builtin.db").read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's schema area overwritten
    (state / "builtin.db").write_bytes(bytes(data))
    code = main(["backup", "-c", config, "--to", str(tmp_path / "again")])
    assert code == 1 and "backup" in capsys.readouterr().err
