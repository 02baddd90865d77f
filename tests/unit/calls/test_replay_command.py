"""`crm-connector replay` as a user runs it: a real subprocess on capture files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.calls.capture import format_ami

from .captures import CAPTURES, load

# A capture whose call rings a phone (the first one alphabetically need not).
SAMPLE = next(p for p in CAPTURES if p.stem == "attended_transfer_ami_completed")

# The captures are part of the repository: in CI their absence is a failure, not a skip.
if not CAPTURES and os.environ.get("CI") == "true":
    raise RuntimeError("no recorded captures in tests/fixtures/ami")
pytestmark = pytest.mark.skipif(not CAPTURES, reason="no recorded captures in tests/fixtures/ami")
REQUIRED = {
    "id",
    "linkedids",
    "direction",
    "client",
    "did",
    "started_at",
    "answered_at",
    "ended_at",
    "talk_seconds",
    "disposition",
    "rang",
    "answered_by",
    "legs",
    "transfers",
    "queue",
    "pickup",
    "originated",
    "recording",
    "hangup_cause",
    "reason",
    "voicemail",
}


def _replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", "replay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_replay_prints_one_json_line_per_call_with_every_key() -> None:
    done = _replay(str(SAMPLE))
    calls = _lines(done.stdout)
    assert done.returncode == 0 and len(calls) == len(load(SAMPLE.stem).truth or [])
    assert all(set(call) >= REQUIRED for call in calls)


def test_replay_events_adds_live_events_before_the_call() -> None:
    kinds = [line.get("kind", "call") for line in _lines(_replay(str(SAMPLE), "--events").stdout)]
    assert kinds[0] == "ringing" and kinds[-2:] == ["ended", "call"]


def test_replay_reads_raw_ami_text_like_json(tmp_path: Path) -> None:
    capture = load(SAMPLE.stem)
    text = tmp_path / "capture.ami"
    text.write_text("".join(format_ami(e) for e in capture.events), encoding="utf-8")
    from_ami = _lines(_replay(str(text), "--format", "ami").stdout)
    assert from_ami == _lines(_replay(str(SAMPLE)).stdout)


def test_replay_reads_json_lines(tmp_path: Path) -> None:
    capture = load(SAMPLE.stem)
    lines = tmp_path / "capture.jsonl"
    lines.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in capture.events), encoding="utf-8")
    assert len(_lines(_replay(str(lines)).stdout)) == len(capture.truth or [])


def test_replay_warns_about_garbage_and_goes_on(tmp_path: Path) -> None:
    capture = load(SAMPLE.stem)
    lines = tmp_path / "capture.jsonl"
    body = [json.dumps(e, ensure_ascii=False) for e in capture.events]
    lines.write_text("\n".join([*body[:3], "}{ garbage", *body[3:]]), encoding="utf-8")
    done = _replay(str(lines), "--format", "jsonl")
    assert done.returncode == 0 and "line 4: not a JSON event object" in done.stderr


def test_replay_of_a_missing_file_fails_with_a_message(tmp_path: Path) -> None:
    done = _replay(str(tmp_path / "absent.json"))
    assert done.returncode == 1 and "cannot read" in done.stderr
