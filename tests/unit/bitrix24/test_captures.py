"""Recorded captures from the real Asterisk → call tracker → SQLite outbox → the fake portal.

Each capture in tests/fixtures/ami carries its "truth" (what happened, written by the scenario);
the portal's state after delivery must agree with it: one finished registration per external
conversation, a history row per employee who talked, the right responsible, cards for those who
rang, nothing at all for internal calls.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.bitrix24 import Bitrix24Adapter, create
from connector.calls.capture import read_capture
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.config import OutboxSettings
from connector.crm import AdapterContext
from connector.sync.dispatcher import Dispatcher
from connector.sync.drain import drain
from connector.sync.outbox import Outbox
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import USERS, settings_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
CAPTURES = sorted(FIXTURES.glob("*.json"))
OUTBOX = OutboxSettings(
    max_attempts=5, backoff_min=0.01, backoff_max=0.05, lease_seconds=10, job_timeout=5, poll_seconds=0.5
)
STATUS = {"answered": "200", "missed": "304", "busy": "486"}


def user_of(extension: str) -> int:
    """The portal user the test gives each extension (201-203 as in the fixture, others 1000+ext)."""
    return USERS.get(extension) or 1000 + int(re.sub(r"\D", "", extension) or 0)


def truth_of(path: Path) -> list[dict[str, Any]]:
    """The calls the capture's scenario says happened."""
    calls: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["truth"]["calls"]
    return calls


def extensions(truth: list[dict[str, Any]]) -> set[str]:
    """Every employee extension the truth mentions."""
    found: set[str] = set()
    for call in truth:
        found.update(call.get("rang") or [])
        found.update(call.get("legs") or [])
        if call.get("answered_by"):
            found.add(call["answered_by"])
    return {ext for ext in found if ext.isdigit()}


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Outbox]:
    outbox = await Outbox.open(tmp_path / "outbox.db")
    yield outbox
    await outbox.close()


async def replay_into(path: Path, box: Outbox, adapter: Bitrix24Adapter) -> None:
    """Feed the capture through the tracker and queue what it emits, as the daemon does."""
    capture = await asyncio.to_thread(read_capture, path)
    tracker = CallTracker(rules_from_numbering(capture.numbering))
    emitted: list[Call | LiveEvent] = []
    for event in capture.events:
        emitted.extend(tracker.feed(event))
    emitted.extend(tracker.close_all())
    for item in emitted:
        if isinstance(item, LiveEvent):
            await box.record_live(item, [adapter])
        else:
            await box.record_call(item, [adapter])


async def deliver(box: Outbox, adapter: Bitrix24Adapter) -> None:
    changed, stop = asyncio.Event(), asyncio.Event()
    dispatcher = Dispatcher(box, {"bitrix24": adapter}, OUTBOX, listener=lambda _: changed.set())
    assert await drain(box, dispatcher, changed, stop, within=120.0)


def same(a: str, b: str) -> bool:
    """Two numbers are the same when their last ten digits are."""
    return re.sub(r"\D", "", a)[-10:] == re.sub(r"\D", "", b)[-10:]


def on_line(registered: Any, call: dict[str, Any]) -> bool:
    """The registration was made on the call's line (DID), if the call has one."""
    return not call.get("did") or same(str(registered.params.get("LINE_NUMBER", "")), call["did"])


def expected_responsible(call: dict[str, Any]) -> int:
    """Who the call must be finished for (-1 when the transfer legs decide)."""
    legs = call.get("legs") or []
    if call["disposition"] == "answered" and len(legs) == 1:
        return user_of(legs[0])
    if call["disposition"] != "answered" and call.get("rang"):
        return user_of(call["rang"][0])
    return -1  # transfers: checked through the legs


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
async def test_capture_reaches_the_portal_as_its_truth_says(
    path: Path, portal: FakeBitrix24, box: Outbox, session: aiohttp.ClientSession
) -> None:
    truth = await asyncio.to_thread(truth_of, path)
    for ext in extensions(truth):
        if ext not in USERS:
            portal.add_user(user_of(ext), ext)
    context = AdapterContext(name="bitrix24", session=session, state=box.state("bitrix24"))
    adapter = create(settings_for(portal, upload_recordings=False), context)
    assert isinstance(adapter, Bitrix24Adapter)
    await replay_into(path, box, adapter)
    await deliver(box, adapter)

    external = [c for c in truth if c["direction"] != "internal"]
    mains = [c for c in portal.calls.values() if c.finished and "/" not in c.params["EXTERNAL_CALL_ID"]]
    assert len(mains) == len(external)
    talked = sum(max(0, len(c.get("legs") or []) - 1) for c in external)
    assert len(portal.activities) == len(external) + talked
    for call in external:
        (main,) = [c for c in mains if same(c.params["PHONE_NUMBER"], call["client"]) and on_line(c, call)]
        assert main.finished is not None
        if call.get("rang_unordered") and call["disposition"] != "answered":
            assert main.finished["USER_ID"] in {user_of(ext) for ext in call["rang"]}
        elif expected_responsible(call) != -1:
            assert main.finished["USER_ID"] == expected_responsible(call)
        if call["disposition"] in STATUS:
            assert main.finished["STATUS_CODE"] == STATUS[call["disposition"]]
        if call["direction"] == "inbound":
            shown = {u for action, u in main.card_log if action == "show"}
            assert {user_of(ext) for ext in call.get("rang") or []} <= shown
        group = call.get("queue") or call.get("rang_unordered")  # members rang together, one answered
        if call["direction"] == "inbound" and call.get("answered_by") and group:
            hidden = {u for action, u in main.card_log if action == "hide"}
            assert {user_of(ext) for ext in call["rang"] if ext != call["answered_by"]} <= hidden
        if len(call.get("legs") or []) > 1:
            users = {
                a["RESPONSIBLE_ID"]
                for a in portal.activities
                if a["PHONE_NUMBER"] == main.params["PHONE_NUMBER"]
            }
            assert users == {user_of(ext) for ext in call["legs"]}
