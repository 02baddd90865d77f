"""An auto-dial list driven through the harness's real Asterisk: the dialer originates through
`CallControl` on the AMI, the tracker turns the PBX's events into call records, the built-in
adapter files them in a real SQLite store, and the dialer settles each number from its record.
Three clients: one answers, one is busy, one never answers. Checked: the results and the calls
they link to, the order, the employee's phone ringing before the client's, and the wrap-up
pause between a call's end and the next originate, by the PBX's own event times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from adapters.builtin.adapter import BuiltinAdapter
from adapters.builtin.dialer_store import DialerStore
from adapters.builtin.dialer_worker import Dialer
from adapters.builtin.store import Store
from connector.ami.client import AmiClient
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.config import AmiSettings
from connector.control import CallControl, CallControlSettings
from connector.crm import AdapterContext, MemoryState
from connector.settings_schema import Secret

from .harness import AMI_USER, NUMBERING, Harness

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

PAUSE = 2  # seconds of wrap-up pause
CLIENTS = {"+79161230001": "answer:1:2", "+79161230002": "busy", "+79161230003": "noanswer"}


@dataclass
class Rig:
    h: Harness
    store: Store
    lists: DialerStore
    dialer: Dialer


@pytest_asyncio.fixture(loop_scope="session")
async def rig(pbx_harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    """The daemon's parts for auto-dialling, on the harness's PBX; employee 201 answers."""
    h = pbx_harness
    await h.reset()
    store = await Store.open(Path(tmp_path_factory.mktemp("dialer")) / "crm.db")
    await store.employees.create("Егор Сотрудник", "201", "employee")
    tracker = CallTracker(rules_from_numbering(NUMBERING))
    filing: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession() as session:
        adapter = BuiltinAdapter(AdapterContext("builtin", session, MemoryState()), store)

        def on_event(message: Any) -> None:
            for item in tracker.feed(message):
                if isinstance(item, Call):  # as the outbox hands finished calls to the adapter
                    task = asyncio.create_task(adapter.log_call(item))
                    filing.add(task)
                    task.add_done_callback(filing.discard)

        ami = AmiClient(
            AmiSettings(username=AMI_USER, secret=Secret(h.pbx_instance.values["AMI_SECRET"]),
                        port=h.pbx_instance.ami_port),
            on_event,
        )  # fmt: skip
        ami.start()
        control = CallControl(ami, CallControlSettings(), rules_from_numbering(NUMBERING))
        lists = DialerStore(store.db)
        dialer = Dialer(lists, control)
        running = asyncio.create_task(dialer.run())
        try:
            await ami.wait_connected(10)
            yield Rig(h, store, lists, dialer)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await ami.stop()
            await store.close()
            await h.reset()


async def until_done(rig: Rig, list_id: int) -> dict[str, Any]:
    """The list once it stopped running (looked at twice a second, for at most two minutes)."""
    for _ in range(240):
        row = await rig.lists.get(list_id)
        if row["state"] != "running":
            return row
        await asyncio.sleep(0.5)
    raise AssertionError(f"the list still runs: {row}")


def stamp(raw: Any) -> float:
    return float(raw.get("Timestamp", "0"))


async def test_a_list_rings_the_employee_then_each_client_with_the_pause_between(rig: Rig) -> None:
    h = rig.h
    await h.phone("201", "answer:1:0")
    for number, behaviour in CLIENTS.items():
        await h.client(number, behaviour)
    h.begin()
    made = await rig.lists.create(
        {
            "name": "Промоакция",
            "employee_id": 1,
            "pause_seconds": PAUSE,
            "retry_minutes": 30,
            "max_attempts": 1,
        },
        [(number, None) for number in CLIENTS],
    )
    await rig.lists.update(made["id"], {"state": "running"})
    rig.dialer.wake()
    done = await until_done(rig, made["id"])
    entries, _ = await rig.lists.entries(made["id"], 10, 0)
    records = [
        await rig.store.db.fetch_one("SELECT * FROM calls WHERE id = ?", (e["call_id"],)) for e in entries
    ]
    events = h.pbx.events[h.pbx_mark :]
    starts, first_phone = [], []
    for entry in entries:
        mine = [e for e in events if e.get("Linkedid") == entry["call_id"] and e.get("Event") == "Newchannel"]
        starts.append(min(stamp(e) for e in mine))
        phones = [str(e.get("Channel")) for e in mine if str(e.get("Channel")).startswith("PJSIP/")]
        first_phone.append(phones[0].rpartition("-")[0] if phones else "")
    ends = [datetime.fromisoformat(json.loads(r["record"])["ended_at"]).timestamp() for r in records if r]
    gaps = [starts[i + 1] - ends[i] for i in range(len(ends) - 1)]
    assert (
        done["state"],
        [(e["phone"], e["status"], e["attempts"]) for e in entries],
        [(r["phone"], r["direction"]) if r else None for r in records],
        first_phone,
        [starts[i] < starts[i + 1] for i in range(len(starts) - 1)],
        [gap >= PAUSE for gap in gaps],
    ) == (
        "done",
        [("+79161230001", "answered", 1), ("+79161230002", "busy", 1), ("+79161230003", "no_answer", 1)],
        [("+79161230001", "outbound"), ("+79161230002", "outbound"), ("+79161230003", "outbound")],
        ["PJSIP/201", "PJSIP/201", "PJSIP/201"],
        [True, True],
        [True, True],
    ), gaps
