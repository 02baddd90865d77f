"""`crm-connector migrate`: a SQLite CRM copied into PostgreSQL, resumed after a stop, verified."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from adapters.builtin.callstore import CallFilter
from adapters.builtin.db import PostgresTarget
from adapters.builtin.migrate import MigrationError, migrate
from adapters.builtin.store import Store
from connector import cli
from tests.postgres import Cluster
from tests.unit.builtin.helpers import T0, make_call


async def _sqlite_crm(path: Path) -> None:
    """A small CRM with every kind of row: employees, clients (extra e-mails), calls, deals, notes."""
    store = await Store.open(path)
    try:
        employee, _token = await store.employees.create("Анна", "201", "admin")
        client_id = await store.clients.create("ООО «Ёлка»", ["+79161234567"], email="a@yolka.ru")
        await store.clients.update(client_id, {"emails": ["a@yolka.ru", "b@yolka.ru", "c@yolka.ru"]})
        for n in range(7):
            await store.calls.save(
                make_call(
                    f"17000000{n:02d}.1", f"+7916123450{n}", start=T0 + timedelta(minutes=n), talk=n * 7
                )
            )
        await store.notes.add_comment(client_id, "перезвонить 100% завтра", employee["id"])
        pipeline = (await store.deals.pipelines())[0]
        deal = {"pipeline_id": pipeline["id"], "client_id": client_id, "title": "Ёлки", "value": 1.5}
        await store.deals.create(deal)
    finally:
        await store.close()


async def test_a_stopped_copy_resumes_and_ends_verified_with_everything_readable(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    source = tmp_path / "builtin.db"
    await _sqlite_crm(source)
    lite = await Store.open(source)
    calls_before, total = await lite.calls.list(CallFilter(), limit=50, offset=0)
    await lite.close()
    with postgres_cluster.fresh_database() as url:
        target = PostgresTarget(url)
        stopped = await migrate(source, target, batch=2, max_batches=5)
        assert not stopped.complete and not stopped.ok
        with psycopg.connect(url) as pg:
            marks = pg.execute("SELECT SUM(copied) FROM crm_migration").fetchone()
            assert marks is not None and marks[0] > 0
        report = await migrate(source, target, batch=2)
        assert report.ok, [(t.table, t.rows, t.target_rows) for t in report.tables if not t.ok]
        by_name = {t.table: t for t in report.tables}
        assert by_name["calls"].rows == 7 and by_name["client_emails"].rows == 2
        moved = await Store.open(target)
        try:
            card = await moved.clients.by_phone("+79161234567")
            assert card is not None and card["emails"] == ["a@yolka.ru", "b@yolka.ru", "c@yolka.ru"]
            calls_after, total_after = await moved.calls.list(CallFilter(), limit=50, offset=0)
            assert total_after == total == 7
            assert [c["id"] for c in calls_after] == [c["id"] for c in calls_before]
            newer = await moved.clients.create("Новый", ["+79990000000"])
            assert newer > card["id"]  # the identity went on after the copied ids
        finally:
            await moved.close()


async def test_a_changed_row_is_caught_by_the_checksum(tmp_path: Path, postgres_cluster: Cluster) -> None:
    source = tmp_path / "builtin.db"
    await _sqlite_crm(source)
    with postgres_cluster.fresh_database() as url:
        target = PostgresTarget(url)
        assert (await migrate(source, target)).ok
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute("UPDATE calls SET talk_seconds = talk_seconds + 1 WHERE id = '1700000003.1'")
            pg.execute("UPDATE crm_migration SET done = 1")
        again = await migrate(source, target)
        bad = [t.table for t in again.tables if not t.ok]
        assert bad == ["calls"]


async def test_a_target_holding_a_crm_already_is_refused(tmp_path: Path, postgres_cluster: Cluster) -> None:
    source = tmp_path / "builtin.db"
    await _sqlite_crm(source)
    with postgres_cluster.fresh_database() as url:
        other = await Store.open(PostgresTarget(url))
        await other.clients.create("Чужой", ["+79990000001"])
        await other.close()
        with pytest.raises(MigrationError, match="empty database"):
            await migrate(source, PostgresTarget(url))


def test_the_command_copies_and_prints_the_verified_table(
    tmp_path: Path, postgres_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    source = tmp_path / "builtin.db"
    asyncio.run(_sqlite_crm(source))
    with postgres_cluster.fresh_database() as url:
        assert cli.main(["migrate", "--from", str(source), "--to", url, "--batch", "3"]) == 0
        out = capsys.readouterr().out
        assert "calls" in out and ": verified" in out
    assert cli.main(["migrate", "--from", str(source), "--to", "postgresql://u:secret@h/db"]) == 2
    assert "secret" not in capsys.readouterr().err.replace("builtin.database_password", "")
