"""Direction on channel drivers that create inbound channels in state Down (chan_sip, IAX2, DAHDI):
an originate is told by the evidence only an originate leaves (issue 15 defect 1)."""

from __future__ import annotations

import pytest

from connector.calls.model import Call

from .synthetic import Story, run


def _inbound(tech: str, answered: bool) -> list[Call]:
    s = Story()
    trunk = s.chan(f"{tech}/trunk-00000001", number="89161234567", exten="74951110001")
    s.new(trunk, "0")  # chan_sip/IAX2/DAHDI: an incoming channel is born Down
    s.app(trunk, "Dial", f"{tech}/201,30")
    phone = s.chan(f"{tech}/201-00000002", linkedid=trunk.uniqueid, number="201", context="internal")
    s.new(phone, "0")
    s.dial(trunk, phone, f"{tech}/201")
    s.state(phone, "5")
    if answered:
        s.state(phone, "6")
        s.dial_end(trunk, phone, "ANSWER")
        s.state(trunk, "6")
        s.bridge("b-1", trunk, phone)
        s.leave("b-1", trunk, phone)
        s.hangup(phone, wait=30)
    else:
        s.dial_end(trunk, phone, "NOANSWER")
        s.hangup(phone, wait=30)
    s.hangup(trunk)
    return run(s.events)


@pytest.mark.parametrize("tech", ["SIP", "IAX2", "DAHDI"])
def test_inbound_call_born_down_is_inbound_and_answered(tech: str) -> None:
    calls = _inbound(tech, answered=True)
    assert [(c.direction.value, c.client, c.did, c.answered_by, c.originated) for c in calls] == [
        ("inbound", "+79161234567", "+74951110001", "201", False)
    ]


@pytest.mark.parametrize("tech", ["SIP", "IAX2"])
def test_inbound_call_born_down_unanswered_is_missed(tech: str) -> None:
    calls = _inbound(tech, answered=False)
    assert [(c.direction.value, c.disposition.value, c.rang) for c in calls] == [
        ("inbound", "missed", ("201",))
    ]


def test_originate_to_the_client_first_is_outbound() -> None:
    s = Story()
    client = s.chan("SIP/trunk-00000001", number="74951110001", exten="s")
    s.new(client, "0")
    s.dial(None, client, "SIP/trunk/89161234567")  # the Originate's own dial: no source channel
    s.state(client, "6")
    s.dial_end(None, client, "ANSWER")
    s.app(client, "Dial", "SIP/201,30", context="internal")
    phone = s.chan("SIP/201-00000002", linkedid=client.uniqueid, number="201", context="internal")
    s.new(phone, "0")
    s.dial(client, phone, "SIP/201")
    s.state(phone, "6")
    s.dial_end(client, phone, "ANSWER")
    s.bridge("b-1", client, phone)
    s.leave("b-1", client, phone)
    s.hangup(phone, wait=20)
    s.hangup(client)
    calls = run(s.events)
    assert [(c.direction.value, c.client, c.originated, c.answered_by) for c in calls] == [
        ("outbound", "+79161234567", True, "201")
    ]
