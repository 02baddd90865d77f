"""AMI framing: whole messages, decoded once, in order, whatever the TCP chunking."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from connector.ami.protocol import AmiProtocol, Message, encode_action, parse_message

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
NEWCHANNEL = (
    "Event: Newchannel\r\nChannel: PJSIP/provider-00000001\r\nCallerIDNum: 74951234567\r\n"
    "CallerIDName: Иван Петрович\r\nUniqueid: 1763805600.1\r\n\r\n"
).encode()


class Transport(asyncio.Transport):
    """A transport that only remembers whether it was closed (the protocol's peer in these tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass


def make_protocol(on_message: object = None) -> tuple[AmiProtocol, list[Message], Transport]:
    received: list[Message] = []
    protocol = AmiProtocol(on_message or received.append)  # type: ignore[arg-type]
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, received, transport


async def test_a_name_cut_inside_a_cyrillic_letter_arrives_whole() -> None:
    protocol, received, _ = make_protocol()
    for i in range(len(BANNER + NEWCHANNEL)):
        protocol.data_received((BANNER + NEWCHANNEL)[i : i + 1])
    assert received == [
        {
            "Event": "Newchannel",
            "Channel": "PJSIP/provider-00000001",
            "CallerIDNum": "74951234567",
            "CallerIDName": "Иван Петрович",
            "Uniqueid": "1763805600.1",
        }
    ]


async def test_the_banner_gives_the_protocol_version() -> None:
    protocol, _, _ = make_protocol()
    protocol.data_received(BANNER)
    assert await protocol.banner == "9.0.0"


async def test_messages_are_handed_on_in_the_order_they_came() -> None:
    protocol, received, _ = make_protocol()
    stream = BANNER + b"".join(f"Event: DialState\r\nSeq: {i}\r\n\r\n".encode() for i in range(500))
    for start in range(0, len(stream), 7):
        protocol.data_received(stream[start : start + 7])
    assert [m["Seq"] for m in received] == [str(i) for i in range(500)]


async def test_a_failing_handler_is_logged_with_the_message_and_the_next_message_still_arrives() -> None:
    seen: list[str] = []

    def handler(message: Message) -> None:
        seen.append(message["Seq"])
        if message["Seq"] == "1":
            raise RuntimeError("tracker bug")

    protocol, _, transport = make_protocol(handler)
    with capture_logs() as logs:
        protocol.data_received(BANNER + b"Event: A\r\nSeq: 1\r\n\r\nEvent: A\r\nSeq: 2\r\n\r\n")
    assert seen == ["1", "2"]
    assert not transport.aborted
    failure = next(e for e in logs if e["event"] == "ami.message_handler_failed")
    assert failure["message"] == {"Event": "A", "Seq": "1"}


async def test_invalid_utf8_is_replaced_not_dropped() -> None:
    protocol, received, _ = make_protocol()
    protocol.data_received(BANNER + b"Event: Newchannel\r\nCallerIDName: \xff\xfeX\r\n\r\n")
    assert received[0]["CallerIDName"] == "\ufffd\ufffdX"


async def test_a_peer_that_is_not_ami_is_dropped() -> None:
    protocol, _, transport = make_protocol()
    protocol.data_received(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(ConnectionError):
        await protocol.banner
    assert transport.aborted
    assert await protocol.closed == "not an AMI banner"


async def test_an_endless_message_closes_the_connection() -> None:
    protocol, _, transport = make_protocol()
    protocol.data_received(BANNER)
    protocol.data_received(b"Event: X\r\nJunk: " + b"x" * (2 << 20))
    assert transport.aborted


def test_repeated_headers_keep_every_value() -> None:
    message = parse_message(b"Event: VarSet\r\nChanVariable: A=1\r\nChanVariable: B=2")
    assert message["ChanVariable"] == "A=1\nB=2"


def test_an_action_is_encoded_as_utf8() -> None:
    wire = encode_action({"Action": "Originate", "CallerID": "Отдел продаж <101>"})
    assert wire == "Action: Originate\r\nCallerID: Отдел продаж <101>\r\n\r\n".encode()


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_action({"Action": "Originate", "CallerID": "x\r\nAction: Hangup"})
