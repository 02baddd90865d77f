"""SIGTERM with a real call in progress on the real Asterisk 22: the daemon journals the call's
events at shutdown and the next start resumes it whole — its DID kept while the call goes on, or
closed once as interrupted when the client hung up while the daemon was down.

Reuses the daemon-under-test pattern and helpers of test_ami_service.py (a subprocess daemon, the
module's own harness).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pbx import test_ami_service as service
from tests.pbx.harness import Harness
from tests.unit.service.daemon import daemon, free_port, journal, journal_ids, wait_report, wait_status

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="module")]

harness = service.harness  # one Asterisk for this module, as in test_ami_service
pbx = service.pbx
DID = "+" + service.LINE


async def test_sigterm_then_the_client_hangs_up_while_down_closes_the_call_once(
    tmp_path: Path, pbx: Harness
) -> None:
    port = free_port()
    config = service.config_for(tmp_path, pbx, port)
    async with daemon(tmp_path, config, "first", service.secret_of(pbx)) as first:
        await wait_status(port, "ok")  # logged in to AMI: the call is followed from its first event
        uniqueid = await service.call_in_progress(pbx, port)
        assert await first.stop() == 0
    await pbx.hangup_world(uniqueid)  # the call ends while no daemon runs
    await pbx.wait_idle()
    async with daemon(tmp_path, config, "second", service.secret_of(pbx)) as second:
        await wait_report(port, "calls_in_progress", 0)
        await service.finish(second, port, tmp_path)
    calls = await journal(tmp_path)
    assert [(c["client"], c["did"], c["answered_by"], c["interrupted"]) for c in calls] == [
        (f"+{service.CLIENT}", DID, "201", True)
    ]


async def test_sigterm_during_a_call_resumes_it_with_its_did(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    config = service.config_for(tmp_path, pbx, port)
    async with daemon(tmp_path, config, "first", service.secret_of(pbx)) as first:
        await wait_status(port, "ok")  # logged in to AMI: the call is followed from its first event
        uniqueid = await service.call_in_progress(pbx, port)
        assert await first.stop() == 0
    async with daemon(tmp_path, config, "second", service.secret_of(pbx)) as second:
        await wait_report(port, "calls_in_progress", 1)
        await service.end_call(pbx, port, uniqueid)
        calls = await service.finish(second, port, tmp_path)
    assert [(c["client"], c["did"], c["disposition"], c["interrupted"]) for c in calls] == [
        (f"+{service.CLIENT}", DID, "answered", False)
    ]
    assert await journal_ids(tmp_path) == [(calls[0]["id"], False)]
