"""A local AMI server for the demo: replays recorded captures as if a PBX were taking calls.

It speaks enough of the manager protocol for the real AMI client: the banner, Login,
CoreShowChannels (an empty list), Ping and a plain Success for any other action. Once the
client has listed the channels after its login it plays the captures of tests/fixtures/ami one
after another, forever, each with fresh uniqueids/linkedids and channel names (so every replay
is a new conversation), current timestamps, its recordings moved under the demo's recordings
folder (a real audible WAV is written there), paced by the gaps between the recorded events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import struct
import time
import wave
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector import logs

log = logs.get_logger(__name__)

Event = dict[str, Any]
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
MAX_GAP = 5.0  # seconds: a long silence in a capture is shortened to this
_ID = re.compile(r"^(?:(?P<prefix>.*)-)?(?P<epoch>\d+)\.(?P<seq>\d+)$")
_SUFFIX = re.compile(r"-([0-9a-f]{8})(?=;[12]|\b)")


def encode(message: dict[str, Any]) -> bytes:
    """One AMI message on the wire (a list value becomes a repeated header)."""
    lines = []
    for key, value in message.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {item}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class Renamer:
    """Gives each replay fresh ids, keeping their order (the smallest linkedid stays smallest)."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._suffix = itertools.count(0x100)

    def mapping(self, events: Sequence[Event]) -> dict[str, str]:
        """Old id or channel suffix → new one, for every id in `events`."""
        ids = {str(v) for e in events for k, v in e.items() if k.endswith(("Uniqueid", "Linkedid")) and v}
        base = int(time.time())
        mapping: dict[str, str] = {}
        for old in sorted(ids, key=_id_order):
            match = _ID.match(old)
            prefix = f"{match['prefix']}-" if match and match["prefix"] else ""
            mapping[old] = f"{prefix}{base}.{next(self._seq)}" if match else f"{old}-{next(self._seq)}"
        suffixes = {s for e in events for v in e.values() if isinstance(v, str) for s in _SUFFIX.findall(v)}
        for old in sorted(suffixes):
            mapping[f"-{old}"] = f"-{next(self._suffix):08x}"
        return mapping


def _id_order(value: str) -> tuple[int, int, str]:
    match = _ID.match(value)
    return (int(match["epoch"]), int(match["seq"]), value) if match else (0, 0, value)


def rewrite(value: Any, mapping: dict[str, str], pattern: re.Pattern[str] | None) -> Any:
    """`value` with every old id replaced (strings, and each item of repeated headers)."""
    if isinstance(value, list):
        return [rewrite(v, mapping, pattern) for v in value]
    if not isinstance(value, str) or pattern is None:
        return value
    return pattern.sub(lambda m: mapping[m.group(0)], value)


def write_tone(path: Path, seconds: float = 3.0, rate: int = 8000) -> None:
    """An audible WAV (a soft two-tone chime) standing in for the conversation's recording."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = (
        int(6000 * math.sin(2 * math.pi * (440 if (i // rate) % 2 == 0 else 660) * i / rate))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))


class AmiReplayServer:
    """The replaying AMI server; `start()` gives its port, `close()` stops it and its tasks."""

    def __init__(
        self,
        scenarios: Sequence[Sequence[Event]],
        recordings_dir: Path,
        *,
        pause: float = 8.0,
        speed: float = 1.0,
        rounds: int | None = None,  # None: forever
    ) -> None:
        self.scenarios = [list(s) for s in scenarios]
        self.recordings_dir = recordings_dir
        self.pause = pause
        self.speed = speed
        self.rounds = rounds
        self.renamer = Renamer()
        self.played = 0  # scenarios fully sent (for the demo's status line and tests)
        self.finished = asyncio.Event()  # set once `rounds` rounds were played
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; the port actually bound."""
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and end every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()

    def _own(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._own(self._session(reader, writer), "demo-ami-session")

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        player: asyncio.Task[None] | None = None
        writer.write(BANNER)
        try:
            async for action in _actions(reader):
                writer.write(encode(_answer(action)))
                if action.get("Action", "").lower() == "coreshowchannels":
                    writer.write(encode(_channels_complete(action)))
                await writer.drain()
                # play once the client has read the (empty) channel list after its login, so
                # no replayed call is taken for one left over from before the connection; a
                # client that never asks for it is served from its first Ping
                if action.get("Action", "").lower() in ("coreshowchannels", "ping") and player is None:
                    player = self._own(self._play(writer), "demo-ami-replay")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if player is not None:
                player.cancel()
            writer.close()

    async def _play(self, writer: asyncio.StreamWriter) -> None:
        rounds = itertools.count() if self.rounds is None else range(self.rounds)
        for _ in rounds:
            for events in self.scenarios:
                await self._play_one(events, writer)
                self.played += 1
                await asyncio.sleep(self.pause / self.speed)
        self.finished.set()

    async def _play_one(self, events: Sequence[Event], writer: asyncio.StreamWriter) -> None:
        mapping = self.renamer.mapping(events)
        folder = self.recordings_dir / datetime.now(UTC).strftime("%Y/%m/%d/%H")
        for old_dir in _recording_dirs(events):  # wherever the name appears (VarSet, MixMonitor data)
            mapping[old_dir] = str(folder)
        pattern = re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) or "$^")
        previous: float | None = None
        for event in events:
            stamp = _stamp(event)
            if previous is not None and stamp is not None:
                await asyncio.sleep(min(max(stamp - previous, 0.0), MAX_GAP) / self.speed)
            previous = stamp if stamp is not None else previous
            fresh = {k: rewrite(v, mapping, pattern) for k, v in event.items()}
            if fresh.get("Event") == "VarSet" and fresh.get("Variable") == "MIXMONITOR_FILENAME":
                await asyncio.to_thread(write_tone, Path(str(fresh["Value"])))
            if "Timestamp" in fresh:
                fresh["Timestamp"] = f"{time.time():.6f}"
            writer.write(encode(fresh))
            await writer.drain()


def _recording_dirs(events: Sequence[Event]) -> set[str]:
    """The folders the recorded PBX wrote recordings to (REC_DIR, MIXMONITOR_FILENAME)."""
    found = set()
    for event in events:
        if event.get("Event") != "VarSet" or not event.get("Value"):
            continue
        if event.get("Variable") == "REC_DIR":
            found.add(str(event["Value"]).rstrip("/"))
        elif event.get("Variable") == "MIXMONITOR_FILENAME":
            found.add(str(Path(str(event["Value"])).parent))
    return found


def _stamp(event: Event) -> float | None:
    try:
        return float(event["Timestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def _answer(action: dict[str, str]) -> dict[str, str]:
    name = action.get("Action", "").lower()
    answer = {"Response": "Success", "ActionID": action.get("ActionID", "")}
    if name == "login":
        answer["Message"] = "Authentication accepted"
    elif name == "ping":
        answer.update({"Ping": "Pong", "Timestamp": f"{time.time():.6f}"})
    elif name == "coreshowchannels":
        answer.update({"EventList": "start", "Message": "Channels will follow"})
    elif name == "logoff":
        answer = {"Response": "Goodbye", "ActionID": action.get("ActionID", ""), "Message": "Thanks"}
    return answer


def _channels_complete(action: dict[str, str]) -> dict[str, str]:
    return {
        "Event": "CoreShowChannelsComplete",
        "ActionID": action.get("ActionID", ""),
        "EventList": "Complete",
        "ListItems": "0",
    }


async def _actions(reader: asyncio.StreamReader) -> Any:
    """Each action the client sends, as a header dict (bounded: an action is a few headers)."""
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        action: dict[str, str] = {}
        for line in raw.decode("utf-8", errors="replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                action[name.strip()] = value.strip()
        yield action


def load_scenarios(paths: Iterable[Path]) -> list[list[Event]]:
    """The events of each capture file (unreadable files are skipped with a warning)."""
    from connector.calls.capture import read_capture
    from connector.errors import CaptureError

    scenarios = []
    for path in paths:
        try:
            capture = read_capture(path)
        except CaptureError as exc:
            log.warning("demo.capture_unreadable", path=str(path), error=str(exc))
            continue
        if capture.events:
            scenarios.append([dict(e) for e in capture.events])
    return scenarios
