"""The harness itself works: real calls on the real PBX produce the events their truth claims."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from .ami import header
from .checks import problems
from .harness import Harness
from .scenarios import LiveCaptures, on_profile

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]


def _events(capture: dict, event: str, **headers: str) -> list[dict]:
    return [
        e
        for e in capture["events"]
        if e["Event"] == event and all(header(e, k) == v for k, v in headers.items())
    ]


async def test_inbound_answered_call_dials_answers_and_hangs_up(pbx_captures: LiveCaptures) -> None:
    capture = await pbx_captures.get("inbound_direct_answered")

    begins = [e for e in _events(capture, "DialBegin") if e["DestChannel"].startswith("PJSIP/201-")]
    ends = [
        e
        for e in _events(capture, "DialEnd", DialStatus="ANSWER")
        if e["DestChannel"].startswith("PJSIP/201-")
    ]
    client = _events(capture, "Newchannel", Exten="74951110001")
    assert len(begins) == 1 and len(ends) == 1
    assert client and client[0]["CallerIDNum"] == "+79161234567"
    assert client[0]["Channel"].startswith("PJSIP/SIP-1611151795-")
    hung_up = {e["Channel"] for e in _events(capture, "Hangup")}
    assert {begins[0]["DestChannel"], client[0]["Channel"]} <= hung_up


async def test_events_carry_timestamps_and_the_mikopbx_uniqueid_prefix(pbx_captures: LiveCaptures) -> None:
    capture = await pbx_captures.get("internal_answered")

    assert all(re.fullmatch(r"\d+\.\d{6}", e["Timestamp"]) for e in capture["events"])
    channels = _events(capture, "Newchannel")
    assert channels and all(e["Uniqueid"].startswith("mikopbx-") for e in channels)


async def test_cyrillic_caller_name_arrives_intact(pbx_captures: LiveCaptures) -> None:
    capture = await pbx_captures.get("inbound_cyrillic_name")

    names = {e["CallerIDName"] for e in _events(capture, "Newchannel", Exten="74951110001")}
    assert names == {"Ёлкина Анна-Мария Щукина (ООО «Ромашка»)"}
    assert not any("\ufffd" in str(v) for e in capture["events"] for v in e.values())


async def test_answered_call_is_recorded_into_a_dated_monitor_path(pbx_captures: LiveCaptures) -> None:
    capture = await pbx_captures.get("inbound_direct_answered")

    announced = [e["Value"] for e in _events(capture, "VarSet", Variable="MIXMONITOR_FILENAME")]
    assert len(announced) == 1
    assert re.search(r"/monitor/\d{4}/\d{2}/\d{2}/\d{2}/mikopbx-\d+_mikopbx-[\d.]+\.wav$", announced[0])
    on_host = pbx_captures.harness.root / announced[0].lstrip("/")
    assert on_host.is_file()


async def test_attended_transfer_through_ami_ends_in_attended_transfer_event(
    pbx_captures: LiveCaptures,
) -> None:
    capture = await pbx_captures.get("attended_transfer_ami_completed")

    transfers = _events(capture, "AttendedTransfer", Result="Success")
    assert len(transfers) == 1
    assert transfers[0]["OrigTransfererChannel"].startswith("PJSIP/201-")
    assert transfers[0]["DestType"] == "Bridge"


async def test_refused_consultation_returns_the_client_to_the_first_employee(
    pbx_captures: LiveCaptures,
) -> None:
    capture = await pbx_captures.get("attended_transfer_ami_refused")

    assert not _events(capture, "AttendedTransfer")
    client = _events(capture, "Newchannel", Exten="74951110001")[0]["Channel"]
    enters = [
        e
        for e in _events(capture, "BridgeEnter")
        if e["Channel"] == client or e["Channel"].startswith("PJSIP/201-")
    ]
    original_bridge = enters[0]["BridgeUniqueid"]
    back = [e for e in enters if e["Channel"].startswith("PJSIP/201-")][-1]
    assert back["BridgeUniqueid"] == original_bridge


@pytest.mark.parametrize("name", sorted(on_profile("asterisk")))
async def test_scenario_events_match_its_truth(pbx_captures: LiveCaptures, name: str) -> None:
    capture = await pbx_captures.get(name)

    assert problems(capture) == []


async def test_stop_leaves_no_process_and_no_session_directory(asterisk_root: Path) -> None:
    harness = await Harness.start(asterisk_root)
    pids = [i.proc.pid for i in (harness.pbx_instance, harness.world_instance) if i.proc]
    session = harness.root / harness.session_dir.relative_to("/")

    await harness.stop()

    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not session.exists()
    mounts = await asyncio.to_thread(Path("/proc/mounts").read_text)
    assert str(asterisk_root) not in mounts
