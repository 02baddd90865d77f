"""The end of a call: finish for the responsible, transfer legs in the history, recordings attached."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.bitrix24 import Bitrix24Adapter
from connector.calls.model import Call, Leg, LiveKind, Transfer, TransferKind
from connector.crm import JobKind
from connector.errors import PermanentError, TransientError
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import (
    T0,
    MakeAdapter,
    answered_call,
    closed_hours_call,
    live,
    missed_call,
    with_reason,
)


async def ring_and_answer(adapter: Bitrix24Adapter) -> None:
    for ext in ("201", "202"):
        await adapter.on_live(live(LiveKind.RINGING, ext))
    await adapter.on_live(live(LiveKind.ANSWERED, "202"))


async def test_answered_call_is_finished_for_the_answerer(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await ring_and_answer(adapter)
    await adapter.log_call(answered_call())
    (activity,) = portal.activities
    assert (activity["RESPONSIBLE_ID"], activity["DURATION"], activity["STATUS_CODE"]) == (12, 180, "200")


async def test_finish_uses_the_ring_time_registration(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await ring_and_answer(adapter)
    await adapter.log_call(answered_call())
    assert len(portal.calls) == 1
    assert portal.activities[0]["CALL_ID"] == next(iter(portal.calls))


async def test_finish_closes_every_card(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    await ring_and_answer(adapter)
    await adapter.log_call(answered_call())
    assert all(not call.shown for call in portal.calls.values())


async def test_missed_call_goes_to_the_responsible_for_missed_calls(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(missed_responsible="203")
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.log_call(missed_call())
    (activity,) = portal.activities
    assert (activity["RESPONSIBLE_ID"], activity["STATUS_CODE"], activity["DURATION"]) == (13, "304", 0)


async def test_missed_call_goes_to_the_first_who_rang_by_default(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(missed_call(rang=("202", "201")))
    assert portal.activities[0]["RESPONSIBLE_ID"] == 12


async def test_call_without_live_events_is_registered_then_finished(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(answered_call())
    (call,) = portal.calls.values()
    assert call.params["EXTERNAL_CALL_ID"] == "1700000000.1"
    assert call.finished is not None


async def test_retried_log_call_does_not_finish_twice(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await ring_and_answer(adapter)
    await adapter.log_call(answered_call())
    await adapter.log_call(answered_call())
    assert len(portal.activities) == 1


async def test_registration_lost_by_the_portal_is_registered_again(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await ring_and_answer(adapter)
    portal.calls.clear()  # the portal forgot the registration
    await adapter.log_call(answered_call())
    (activity,) = portal.activities
    assert portal.calls[activity["CALL_ID"]].finished is not None


async def test_live_registration_under_another_linkedid_is_found(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "202", call_id="1700000000.7"))
    await adapter.log_call(answered_call(linkedids=("1700000000.1", "1700000000.7")))
    assert len(portal.calls) == 1
    assert len(portal.activities) == 1


def transferred_call() -> Call:
    a = T0 + timedelta(seconds=8)
    b = a + timedelta(seconds=40)
    end = b + timedelta(seconds=200)
    return answered_call(
        rang=("201", "205"),
        answered_by="201",
        answered_at=a,
        ended_at=end,
        legs=(Leg("201", a, b), Leg("203", b, end)),
        transfers=(Transfer(TransferKind.BLIND, "201", "203", b),),
    )


async def test_transfer_makes_the_longest_talker_responsible(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.log_call(transferred_call())
    (registered,) = portal.calls_by_external_id("1700000000.1")
    main = next(a for a in portal.activities if a["CALL_ID"] == registered.call_id)
    assert (main["RESPONSIBLE_ID"], main["DURATION"]) == (13, 200)


async def test_transfer_leg_is_registered_and_finished_for_who_talked(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(transferred_call())
    (leg,) = portal.calls_by_external_id("1700000000.1/leg0")
    assert leg.finished is not None
    assert (leg.finished["USER_ID"], leg.finished["DURATION"], leg.finished["STATUS_CODE"]) == (11, 40, "200")


async def test_retried_transfer_log_does_not_duplicate_history(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(transferred_call())
    await adapter.log_call(transferred_call())
    assert len(portal.activities) == 2


RECORDING = b"ID3" + bytes(range(256)) * 40


@pytest.fixture
def mp3(tmp_path: Path) -> Path:
    path = tmp_path / "in-74951110001-79161234567-1700000000.1.mp3"
    path.write_bytes(RECORDING)
    return path


async def test_recording_is_attached_after_finish(
    portal: FakeBitrix24, make_adapter: MakeAdapter, mp3: Path
) -> None:
    adapter = await make_adapter()
    call = answered_call(recordings=(str(mp3),))
    await adapter.log_call(call)
    await adapter.attach_recording(call, str(mp3))
    (record,) = portal.records.values()
    assert (record["FILENAME"], record["content"]) == (mp3.name, RECORDING)


async def test_a_wav_announced_by_mixmonitor_is_attached_as_the_mp3_mikopbx_made(
    portal: FakeBitrix24, make_adapter: MakeAdapter, mp3: Path
) -> None:
    announced = mp3.with_suffix(".wav")  # converted and removed after the call
    adapter = await make_adapter()
    call = answered_call(recordings=(str(announced),))
    await adapter.log_call(call)
    await adapter.attach_recording(call, str(announced))
    (record,) = portal.records.values()
    assert (record["FILENAME"], record["content"]) == (mp3.name, RECORDING)


async def test_large_recording_goes_through_the_upload_url(
    portal: FakeBitrix24, make_adapter: MakeAdapter, mp3: Path
) -> None:
    adapter = await make_adapter(inline_recording_max_bytes=1024)
    call = answered_call(recordings=(str(mp3),))
    await adapter.log_call(call)
    await adapter.attach_recording(call, str(mp3))
    (record,) = portal.records.values()
    assert record["content"] == RECORDING


async def test_recording_before_finish_is_retried_later(
    portal: FakeBitrix24, make_adapter: MakeAdapter, mp3: Path
) -> None:
    adapter = await make_adapter()
    await ring_and_answer(adapter)
    with pytest.raises(TransientError, match="not finished"):
        await adapter.attach_recording(answered_call(), str(mp3))


async def test_failed_attach_is_retried_without_finishing_again(
    portal: FakeBitrix24, make_adapter: MakeAdapter, mp3: Path
) -> None:
    adapter = await make_adapter()
    call = answered_call(recordings=(str(mp3),))
    await adapter.log_call(call)
    portal.inject("telephony.externalcall.attachrecord", 502, "<html>Bad Gateway</html>", "text/html")
    with pytest.raises(TransientError):
        await adapter.attach_recording(call, str(mp3))
    await adapter.attach_recording(call, str(mp3))
    assert len(portal.records) == 1
    assert len(portal.activities) == 1


def sox_made(path: Path, kind: list[str]) -> None:
    """A real two-second recording in one of Asterisk's other formats, written by sox."""
    if shutil.which("sox") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sox is not installed (.ci/system-deps.sh installs it)")
        pytest.skip("sox is not installed (.ci/system-deps.sh installs it)")
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", *kind, str(path), "synth", "2", "sine", "440"], check=True
    )


@pytest.mark.parametrize(("name", "kind"), [("in-1.gsm", ["-t", "gsm"]), ("in-1.ul", ["-t", "ul"])])
async def test_a_recording_in_another_format_is_converted_to_mp3_and_attached(
    portal: FakeBitrix24, make_adapter: MakeAdapter, tmp_path: Path, name: str, kind: list[str]
) -> None:
    source = tmp_path / name
    sox_made(source, kind)
    adapter = await make_adapter()
    await adapter.log_call(answered_call())
    await adapter.attach_recording(answered_call(), str(source))
    (record,) = portal.records.values()
    assert record["FILENAME"] == "in-1.mp3"
    content = record["content"]
    assert content[:3] == b"ID3" or (content[0] == 0xFF and content[1] & 0xE0 == 0xE0)  # an mp3 frame
    assert not glob.glob(os.path.join(tempfile.gettempdir(), "b24-rec-*"))  # the temporary mp3 is gone


async def test_a_recording_sox_cannot_read_is_refused_for_good_with_the_reason(
    portal: FakeBitrix24, make_adapter: MakeAdapter, tmp_path: Path
) -> None:
    if shutil.which("sox") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sox is not installed (.ci/system-deps.sh installs it)")
        pytest.skip("sox is not installed (.ci/system-deps.sh installs it)")
    broken = tmp_path / "in-1.ogg"
    broken.write_bytes(b"OggS")
    unknown = tmp_path / "in-1.xyz"
    unknown.write_bytes(b"??")
    adapter = await make_adapter()
    await adapter.log_call(answered_call())
    with pytest.raises(PermanentError, match=r"sox could not convert in-1\.ogg"):
        await adapter.attach_recording(answered_call(), str(broken))
    with pytest.raises(PermanentError, match="unknown audio format"):
        await adapter.attach_recording(answered_call(), str(unknown))
    assert portal.records == {}


async def test_recording_not_yet_written_is_retried(
    portal: FakeBitrix24, make_adapter: MakeAdapter, tmp_path: Path
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(answered_call())
    with pytest.raises(TransientError, match="not there yet"):
        await adapter.attach_recording(answered_call(), str(tmp_path / "missing.mp3"))


async def test_ring_time_registration_under_a_stray_linkedid_is_closed_without_history(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201", call_id="1700000000.1"))
    await adapter.on_live(live(LiveKind.RINGING, "202", call_id="1700000000.9"))
    await adapter.log_call(answered_call(linkedids=("1700000000.1", "1700000000.9")))
    assert len(portal.activities) == 1
    assert all(not call.shown for call in portal.calls.values())


async def test_anonymous_caller_makes_no_jobs(make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    assert adapter.jobs_for(missed_call(client="anonymous")) == []


async def test_recording_still_being_written_is_retried_later(
    portal: FakeBitrix24, make_adapter: MakeAdapter, mp3: Path
) -> None:
    adapter = await make_adapter(recording_settle_seconds=3600.0)  # the file was just written
    call = answered_call(recordings=(str(mp3),))
    await adapter.log_call(call)
    with pytest.raises(TransientError, match="still being written"):
        await adapter.attach_recording(call, str(mp3))
    assert portal.records == {}


async def test_closed_hours_call_is_a_missed_call_with_its_reason(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(missed_responsible="203")
    call = closed_hours_call()
    # as the outbox hands it over: the record's JSON, reason included
    for kind in adapter.jobs_for(call):
        await adapter.perform(kind, call.to_dict())
    (activity,) = portal.activities
    assert (activity["STATUS_CODE"], activity["RESPONSIBLE_ID"], activity["DURATION"]) == ("304", 13, 0)
    assert activity["FAILED_REASON"] == "Звонок в нерабочее время"


async def test_a_refusal_of_an_employee_on_another_call_is_busy_with_its_reason(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(with_reason(missed_call(rang=("201",)), "busy_on_call"))
    (activity,) = portal.activities
    assert (activity["STATUS_CODE"], activity["RESPONSIBLE_ID"]) == ("486", 11)
    assert activity["FAILED_REASON"] == "Сотрудник был занят другим разговором"


async def test_voicemail_with_a_message_names_the_mailbox(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    call = with_reason(missed_call(rang=("201",)), "voicemail", voicemail_box="201", voicemail_left=True)
    await adapter.perform(JobKind.LOG_CALL, call.to_dict())
    (activity,) = portal.activities
    assert activity["STATUS_CODE"] == "304"
    assert activity["FAILED_REASON"] == "Клиент оставил сообщение на голосовой почте (ящик 201)"


async def test_calls_are_not_posted_to_the_chat_unless_asked(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.log_call(answered_call())
    (call,) = portal.calls.values()
    assert (call.params["ADD_TO_CHAT"], portal.activities[0]["ADD_TO_CHAT"]) == (0, "0")


async def test_calls_are_posted_to_the_chat_when_asked(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(add_to_chat=True)
    await adapter.log_call(answered_call())
    (call,) = portal.calls.values()
    assert (call.params["ADD_TO_CHAT"], portal.activities[0]["ADD_TO_CHAT"]) == (1, "1")


async def test_without_upload_history_nothing_reaches_the_portals_telephony(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(upload_history=False)
    assert adapter.jobs_for(answered_call()) == []
    assert not adapter.wants_live(live(LiveKind.RINGING, "201"))
    await adapter.log_call(answered_call())  # a job queued before the switch is a no-op
    assert not [m for m in portal.requests if m.startswith("telephony.externalcall")]
