"""Channel classification: employees' phones, external parties, Local halves, ignored channels."""

from __future__ import annotations

import pytest

from connector.calls.rules import TrackerRules
from connector.calls.state import Kind, classify, id_key

RULES = TrackerRules()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PJSIP/201-0000000a", (Kind.EMPLOYEE, "201")),
        ("PJSIP/201-WS-0000000b", (Kind.EMPLOYEE, "201")),
        ("PJSIP/SIP-1611151795-0000000c", (Kind.EXTERNAL, None)),
        ("SIP/provider-0000000d", (Kind.EXTERNAL, None)),
        ("Local/201@internal-users-00000002;1", (Kind.LOCAL, None)),
        ("Message/ast_msg_queue", (Kind.OTHER, None)),
        ("Snoop/mikopbx-1.2-00000001", (Kind.OTHER, None)),
    ],
)
def test_channel_names_are_classified(name: str, expected: tuple[Kind, str | None]) -> None:
    assert classify(name, RULES) == expected


def test_uniqueids_sort_by_time_then_sequence_with_or_without_system_name() -> None:
    ids = ["mikopbx-1795330301.12", "1795330301.3", "mikopbx-1795330300.99"]
    assert sorted(ids, key=id_key) == ["mikopbx-1795330300.99", "1795330301.3", "mikopbx-1795330301.12"]
