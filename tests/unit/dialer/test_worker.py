"""The dialer task on a real SQLite store and the real `CallControl` (its AMI a recording fake),
with a fake clock: order, wrap-up pause, retries, restarts in the middle of a call, and two
workers racing for one number."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.builtin.dialer_store import DialerStore
from adapters.builtin.dialer_worker import Dialer
from adapters.builtin.store import Store
from connector.calls.model import Direction, Disposition
from connector.control import CallControl, CallControlSettings
from tests.unit.builtin.helpers import T0, make_call

PHONES = ["+79160000001", "+79160000002", "+79160000003"]


@dataclass
class Ami:
    """Takes AMI actions as Asterisk would (no channels unless told), and keeps them."""

    actions: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    channels: list[dict[str, str]] = field(default_factory=list)
    dialled: asyncio.Event = field(default_factory=asyncio.Event)  # set at the first Originate

    async def send(self, action: str, headers: Any = None, **_: Any) -> Any:
        self.actions.append((action, dict(headers or {})))
        if action == "Originate":
            self.dialled.set()
        return SimpleNamespace(events=tuple(self.channels))

    def originated(self) -> list[tuple[str, str]]:
        return [(h["Exten"], h["ChannelId"]) for a, h in self.actions if a == "Originate"]


@dataclass
class World:
    store: Store
    lists: DialerStore
    ami: Ami
    control: CallControl
    clock: list[Any]

    def dialer(self) -> Dialer:
        """A fresh worker, as after a restart."""
        return Dialer(self.lists, self.control, now=lambda: self.clock[0])

    def at(self, seconds: float) -> None:
        self.clock[0] = T0 + timedelta(seconds=seconds)

    async def filed(
        self, call_id: str, phone: str, disposition: Disposition, start_s: float, talk: int
    ) -> None:
        """The call record the built-in adapter files when the call ends."""
        answered = "202" if disposition is Disposition.ANSWERED else None
        start = T0 + timedelta(seconds=start_s)
        call = make_call(
            call_id, phone, direction=Direction.OUTBOUND, start=start, answered_by=answered, talk=talk
        )
        await self.store.calls.save(replace(call, disposition=disposition, originated=True))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = await Store.open(tmp_path / "crm.db")
    employee, _ = await store.employees.create("Егор Сотрудник", "202", "employee")
    lists = DialerStore(store.db)
    row = await lists.create(
        {"name": "Промоакция", "employee_id": employee["id"], "pause_seconds": 20, "retry_minutes": 5,
         "max_attempts": 2}, [(p, None) for p in PHONES],
    )  # fmt: skip
    await lists.update(row["id"], {"state": "running"})
    ami = Ami()
    control = CallControl(ami, CallControlSettings(ring_seconds=30))
    try:
        yield World(store, lists, ami, control, [T0])
    finally:
        await store.close()


async def results(w: World) -> list[tuple[str, str, int]]:
    rows, _ = await w.lists.entries(1, 10, 0)
    return [(r["phone"], r["status"], r["attempts"]) for r in rows]


async def test_numbers_go_in_order_after_the_pause_and_a_restart_never_redials(world: World) -> None:
    w = world
    d = w.dialer()
    await d.step()
    await d.step()  # no record yet: still the same call, nothing new dialled
    first = w.ami.originated()
    await w.filed(first[0][1], PHONES[0], Disposition.ANSWERED, 0, talk=10)  # ends at 15 s
    w.at(15)
    await d.step()  # the result; the pause runs to 35 s
    w.at(34)
    await d.step()
    before_pause_end = len(w.ami.originated())
    w.at(35)
    await d.step()
    second = w.ami.originated()[1]
    # The daemon dies during the second call; the call is filed while it is down.
    await w.filed(second[1], PHONES[1], Disposition.NO_ANSWER, 35, talk=0)  # ends at 55 s
    w.at(60)
    d = w.dialer()
    await d.step()  # settled from the record, not dialled again
    w.at(75)
    await d.step()  # third number; the daemon dies and this call leaves no record at all
    third = w.ami.originated()[2]
    d = w.dialer()
    w.at(75 + 30 + 60)
    await d.step()  # not stale yet: waits
    w.at(75 + 30 + 121)
    await d.step()  # no record and no channel: failed, never redialled
    w.at(55 + 300)
    await d.step()  # the no-answer's retry is due 5 minutes after it ended
    w.at(55 + 300 + 1)
    await d.step()
    assert (first[0][0], before_pause_end, second[0], third[0], [e for e, _ in w.ami.originated()]) == (
        PHONES[0], 1, PHONES[1], PHONES[2], [PHONES[0], PHONES[1], PHONES[2], PHONES[1]],
    )  # fmt: skip
    assert await results(w) == [
        (PHONES[0], "answered", 1),
        (PHONES[1], "dialing", 2),
        (PHONES[2], "failed", 1),
    ]


async def test_a_call_still_on_the_pbx_is_waited_for(world: World) -> None:
    w = world
    d = w.dialer()
    await d.step()
    call_id = w.ami.originated()[0][1]
    w.ami.channels = [{"Channel": "PJSIP/202-00000001", "Uniqueid": call_id, "Linkedid": call_id}]
    w.at(30 + 200)
    await w.dialer().step()
    assert (await results(w))[0] == (PHONES[0], "dialing", 1)


async def test_two_workers_never_dial_one_number_twice(world: World) -> None:
    w = world
    await asyncio.gather(w.dialer().step(), w.dialer().step(), w.dialer().step())
    assert [e for e, _ in w.ami.originated()] == [PHONES[0]]


async def test_a_number_the_toll_fraud_guard_refuses_fails_without_a_call(world: World) -> None:
    w = world
    row = await w.lists.create(
        {"name": "Платные", "employee_id": None, "pause_seconds": 0, "retry_minutes": 5, "max_attempts": 1},
        [("+78091234567", None)],
    )
    await w.lists.update(1, {"state": "paused"})
    await w.lists.update(row["id"], {"state": "running", "employee_id": 1})
    await w.dialer().step()
    entries, _ = await w.lists.entries(row["id"], 10, 0)
    assert (w.ami.originated(), [(e["status"], e["detail"]) for e in entries]) == (
        [],
        [("failed", "номер не разрешён для звонков (защита от мошенничества)")],
    )


async def test_a_dialer_started_before_the_database_opens_waits_for_it_quietly(world: World) -> None:
    """The daemon starts the web app (and so the dialer) before it opens the CRM's database: the
    dialer waits for it, with no warning, then dials."""
    w = world
    await w.store.db.close()
    with capture_logs() as logs:
        task = asyncio.create_task(w.dialer().run())
        try:
            await asyncio.sleep(0.2)
            before = list(w.ami.originated())
            await w.store.db.open()
            async with asyncio.timeout(10):
                await w.ami.dialled.wait()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert (before, [e for e, _ in w.ami.originated()]) == ([], [PHONES[0]])
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == []
