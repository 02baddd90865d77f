"""Capture readers: every format of `crm-connector replay`, and damaged input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.calls.capture import AmiEvent, detect_format, format_ami, parse_capture, read_capture
from connector.errors import CaptureError

EVENTS: list[AmiEvent] = [
    {"Event": "Newchannel", "Uniqueid": "1.1", "Channel": "PJSIP/201-00000001", "CallerIDName": "Иван"},
    {"Event": "VarSet", "Uniqueid": "1.1", "ChanVariable": ["A=1", "B=2"]},
    {"Event": "Hangup", "Uniqueid": "1.1", "Cause": "16"},
]


def _ami(events: list[AmiEvent]) -> str:
    return "Asterisk Call Manager/7.0.3\r\n" + "".join(format_ami(e) for e in events)


def test_capture_object_gives_events_numbering_and_truth() -> None:
    text = json.dumps(
        {"scenario": "x", "numbering": {"country": "7"}, "truth": {"calls": [{"a": 1}]}, "events": EVENTS}
    )
    capture = parse_capture(text)
    assert (capture.events, capture.numbering, capture.truth) == (EVENTS, {"country": "7"}, [{"a": 1}])


def test_json_array_is_read() -> None:
    assert parse_capture(json.dumps(EVENTS)).events == EVENTS


def test_json_lines_are_read() -> None:
    text = "\n".join(json.dumps(e, ensure_ascii=False) for e in EVENTS)
    assert parse_capture(text).events == EVENTS


def test_ami_text_is_read_with_repeated_headers_as_lists() -> None:
    assert parse_capture(_ami(EVENTS)).events == EVENTS


def test_ami_text_skips_responses() -> None:
    text = "Response: Success\r\nActionID: 1\r\n\r\n" + _ami(EVENTS[:1])
    assert parse_capture(text, "ami").events == EVENTS[:1]


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("[{}]", "json"),
        ('{"events": []}', "json"),
        ('{"Event": "A"}\n{"Event": "B"}', "jsonl"),
        ("Event: A\r\n\r\n", "ami"),
    ],
)
def test_format_is_detected(text: str, fmt: str) -> None:
    assert detect_format(text) == fmt


def test_truncated_json_capture_keeps_the_events_before_the_cut() -> None:
    text = json.dumps({"events": EVENTS})
    capture = parse_capture(text[: text.index('"Hangup"') - 12])
    assert capture.events == EVENTS[:2] and "cut" in capture.warnings[-1]


def test_garbage_json_lines_are_skipped_with_a_warning() -> None:
    text = json.dumps(EVENTS[0]) + "\nnot json at all\n" + json.dumps(EVENTS[2])
    capture = parse_capture(text, "jsonl")
    assert capture.events == [EVENTS[0], EVENTS[2]] and capture.warnings == [
        "line 2: not a JSON event object; skipped"
    ]


def test_garbage_ami_lines_are_skipped_with_a_warning() -> None:
    text = _ami(EVENTS[:1]).replace("Uniqueid: 1.1\r\n", "Uniqueid: 1.1\r\n@@@ garbage @@@\r\n")
    capture = parse_capture(text, "ami")
    assert capture.events == EVENTS[:1] and capture.warnings == ["line 4: not a 'Key: Value' header; skipped"]


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(CaptureError, match="unknown capture format"):
        parse_capture("[]", "xml")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "absent.json")
