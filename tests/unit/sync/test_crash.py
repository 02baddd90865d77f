"""The real `crm-connector` in subprocesses: killed with SIGKILL mid-delivery, restarted, nothing
lost and nothing applied twice; a corrupted outbox file stops it with a clear message."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.webhook_server import WebhookServer
from tests.unit.sync.conftest import make_call

SECRET = "a-webhook-secret-of-some-length"
CALLS = 60
JOBS = CALLS * 2  # log_call + attach_recording each
CONCURRENCY = 4
HANG_GUARD = 60  # seconds: only stops a broken test from hanging the run; nothing is timed
ROOT = Path(__file__).resolve().parents[3]


def write_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "connector.yaml"
    config.write_text(
        f"""
ami:
  username: crm
  secret: s3cret
storage:
  dir: {tmp_path / "state"}
logging:
  level: warning
  format: json
outbox:
  lease_seconds: 600  # a restart must not wait for leases: it spots the killed pid
  job_timeout: 5
  backoff_min: 0.01
  backoff_max: 0.1
  poll_seconds: 0.1
  concurrency: {CONCURRENCY}
adapters:
  webhook:
    url: {url}
    secret: {SECRET}
""",
        encoding="utf-8",
    )
    return config


async def connector(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "connector.cli",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    async with asyncio.timeout(HANG_GUARD):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookServer]:
    server = WebhookServer(SECRET, delay=0.05)  # slow enough that a kill catches requests in flight
    await server.start()
    yield server
    await server.stop()


async def test_kill_9_mid_delivery_then_restart_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, receiver: WebhookServer
) -> None:
    config = str(write_config(tmp_path, receiver.url))
    calls = tmp_path / "calls.jsonl"
    calls.write_text("".join(json.dumps(make_call(f"{n}.1").to_dict()) + "\n" for n in range(CALLS)))
    code, out, err = await finish(await connector("outbox", "-c", config, "enqueue-json", str(calls)))
    assert (code, err) == (0, ""), out
    for killed_after in (JOBS // 4, JOBS // 2):
        daemon = await connector("outbox", "-c", config, "drain")
        async with asyncio.timeout(HANG_GUARD):
            await receiver.wait_for(killed_after)
        daemon.kill()  # SIGKILL: no cleanup, leases left behind
        await finish(daemon)
        assert len(receiver.effects) < JOBS  # it really died mid-delivery
    code, out, err = await finish(await connector("outbox", "-c", config, "drain"))
    repeats = sum(receiver.posts.values()) - len(receiver.effects)
    assert code == 0, err
    assert len(receiver.effects) == JOBS  # zero lost
    assert receiver.conflicts == []  # a repeat always carried the same key and body
    # Only what was in flight at each of the two kills went twice, idempotently: per kill, the jobs
    # running (≤ concurrency) and those delivered whose verdicts waited for the ledger's next commit
    # (≤ concurrency: connector/sync/pool.py settles in batches).
    assert repeats <= 2 * (2 * CONCURRENCY)
    for n in range(CALLS):
        log_call, recording = f"webhook:{n}.1:log_call", f"webhook:{n}.1:attach_recording"
        assert receiver.order.index(log_call) < receiver.order.index(recording)


async def test_status_after_delivery_shows_an_empty_queue(tmp_path: Path, receiver: WebhookServer) -> None:
    config = str(write_config(tmp_path, receiver.url))
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps(make_call("1.1").to_dict()) + "\n")
    await finish(await connector("outbox", "-c", config, "enqueue-json", str(calls)))
    await finish(await connector("outbox", "-c", config, "drain"))
    code, out, _ = await finish(await connector("outbox", "-c", config, "status", "--json"))
    status = json.loads(out)
    assert code == 0
    assert status["adapters"]["webhook"] == {
        "pending": 0,
        "running": 0,
        "dead": 0,
        "delivered": 2,
        "oldest_age": None,
    }


async def test_corrupted_outbox_file_stops_the_command_with_a_clear_error(
    tmp_path: Path, receiver: WebhookServer
) -> None:
    config = str(write_config(tmp_path, receiver.url))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "outbox.db").write_bytes(b"\x00garbage, not SQLite\n" * 200)
    code, _, err = await finish(await connector("outbox", "-c", config, "drain"))
    assert code == 1
    assert "outbox.db is corrupted or not an SQLite database" in err
