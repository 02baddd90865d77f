"""AMI events of one simple inbound call (provider → 201), as Asterisk 22 sends them."""

from __future__ import annotations

CLIENT = "74951234567"


def channel(event: str, name: str, uid: str, state: str, at: float, **extra: str) -> dict[str, str]:
    """A channel event with its snapshot headers."""
    number = CLIENT if "provider" in name else "201"
    return {
        "Event": event,
        "Channel": name,
        "Uniqueid": uid,
        "Linkedid": "1.1",
        "ChannelState": state,
        "CallerIDNum": number,
        "CallerIDName": "Иван Петрович" if number == CLIENT else "",
        "Context": "from-trunk",
        "Exten": "201",
        **({"Timestamp": f"{at:.6f}"} if at else {}),
        **extra,
    }


def ringing(t: float = 1763805600.0) -> list[dict[str, str]]:
    """The client's channel rings extension 201."""
    return [
        channel("Newchannel", "PJSIP/provider-00000001", "1.1", "4", t),
        channel("Newchannel", "PJSIP/201-00000002", "1.2", "0", t + 0.1),
        {
            "Event": "DialBegin",
            "Channel": "PJSIP/provider-00000001",
            "Uniqueid": "1.1",
            "Linkedid": "1.1",
            "DestChannel": "PJSIP/201-00000002",
            "DestUniqueid": "1.2",
            "DestLinkedid": "1.1",
            "DialString": "201",
            "Timestamp": f"{t + 0.2:.6f}",
        },
    ]


def hangups(t: float = 1763805660.0) -> list[dict[str, str]]:
    """Both channels hang up (normal clearing)."""
    return [
        channel("Hangup", "PJSIP/201-00000002", "1.2", "5", t, Cause="16"),
        channel("Hangup", "PJSIP/provider-00000001", "1.1", "4", t + 0.1, Cause="16"),
    ]


def snapshot_items() -> list[dict[str, str]]:
    """The two channels as CoreShowChannels lists them while they ring."""
    return [
        {**channel("CoreShowChannel", "PJSIP/provider-00000001", "1.1", "4", 0), "ActionID": "x"},
        {**channel("CoreShowChannel", "PJSIP/201-00000002", "1.2", "5", 0), "ActionID": "x"},
    ]
