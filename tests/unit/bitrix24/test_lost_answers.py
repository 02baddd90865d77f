"""A portal that did what was asked but whose answer never arrived: retries must not duplicate.

The fake runs the method, then closes the connection (`drop_answer`): the adapter sees a
transient error, the outbox retries the job, and the portal must still hold one call activity.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.bitrix24 import Bitrix24Adapter
from connector.calls.model import Call, Leg, LiveKind, Transfer, TransferKind
from connector.errors import TransientError
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import T0, MakeAdapter, answered_call, live

FINISH = "telephony.externalcall.finish"


async def retried(adapter: Bitrix24Adapter, call: Call, attempts: int = 4) -> None:
    """What the outbox does: run the job again after each transient failure."""
    for _ in range(attempts):
        try:
            await adapter.log_call(call)
            return
        except TransientError:
            continue
    raise AssertionError("the job never succeeded")


async def test_a_lost_finish_answer_then_a_retry_leaves_one_call(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "202"))
    portal.drop_answer(FINISH)
    with pytest.raises(TransientError):
        await adapter.log_call(answered_call())
    await retried(adapter, answered_call())
    assert len(portal.activities) == 1
    assert len(portal.calls) == 1  # not registered a second time either


async def test_a_lost_finish_answer_without_a_ring_time_registration_leaves_one_call(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    portal.drop_answer(FINISH)
    await retried(adapter, answered_call())
    assert len(portal.activities) == 1


def transferred() -> Call:
    a = T0 + timedelta(seconds=8)
    b = a + timedelta(seconds=40)
    end = b + timedelta(seconds=200)
    return answered_call(
        rang=("201",),
        answered_by="201",
        answered_at=a,
        ended_at=end,
        legs=(Leg("201", a, b), Leg("203", b, end)),
        transfers=(Transfer(TransferKind.BLIND, "201", "203", b),),
    )


async def test_a_lost_batch_answer_for_a_transferred_call_leaves_one_activity_per_leg(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    portal.drop_answer("batch")  # main finish + the leg's register and finish, all done, answer lost
    await retried(adapter, transferred())
    assert sorted(a["RESPONSIBLE_ID"] for a in portal.activities) == [11, 13]
    assert len(portal.calls) == 2  # the leg's repeated register got the same CALL_ID back


async def test_a_lost_leg_finish_answer_on_the_one_by_one_path_leaves_one_activity(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    portal.inject("batch", 503, '{"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"}', times=2)
    with pytest.raises(TransientError):
        await adapter.log_call(transferred())  # the batch refused: the retry goes one by one
    portal.drop_answer(FINISH, times=2)
    await retried(adapter, transferred())
    assert sorted(a["RESPONSIBLE_ID"] for a in portal.activities) == [11, 13]


async def test_a_transferred_call_is_finished_in_one_request(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    before = len(portal.requests)
    await adapter.log_call(transferred())
    assert portal.requests[before:] == ["batch"]
    assert sorted(a["RESPONSIBLE_ID"] for a in portal.activities) == [11, 13]


async def test_a_lost_register_answer_is_answered_with_the_same_call(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    portal.drop_answer("telephony.externalcall.register")
    await retried(adapter, answered_call())
    assert len(portal.calls) == 1
    assert len(portal.activities) == 1


async def test_a_registration_the_portal_lost_is_still_registered_again(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    # "not found" for a finish never sent is not "done": the portal forgot the call
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "202"))
    portal.calls.clear()
    await adapter.log_call(answered_call())
    assert len(portal.activities) == 1
