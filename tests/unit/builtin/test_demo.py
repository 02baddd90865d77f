"""The demo: its AMI replay server through the real AMI client and tracker, its seed, its folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.builtin.store import Store
from connector.ami.client import AmiClient, ChannelSnapshot
from connector.calls.model import Call
from connector.calls.tracker import CallTracker
from connector.commands.demo import MARKER, _fresh_state, demo_settings
from connector.commands.demo_ami import AmiReplayServer, Renamer, load_scenarios
from connector.commands.demo_seed import EMPLOYEES, seed

CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "ami" / "inbound_direct_answered.json"


@pytest.mark.skipif(not CAPTURE.exists(), reason="the capture is recorded by the PBX harness")
async def test_replayed_captures_become_fresh_calls_with_playable_recordings(tmp_path: Path) -> None:
    server = AmiReplayServer(load_scenarios([CAPTURE]), tmp_path / "monitor", pause=0, speed=20, rounds=2)
    port = await server.start()
    tracker = CallTracker()
    calls: list[Call] = []
    two = asyncio.Event()

    def on_event(event: dict[str, object]) -> None:
        calls.extend(e for e in tracker.feed(event) if isinstance(e, Call))  # type: ignore[arg-type]
        if len(calls) >= 2:
            two.set()

    async def on_session(snapshot: ChannelSnapshot) -> None:
        # The service resynchronises here; with nothing tracked yet there is nothing to do,
        # but having the hook makes the client list the channels, as in the daemon.
        assert snapshot.channels == ()

    client = AmiClient(demo_settings(tmp_path, port, 8088).ami, on_event, on_session=on_session)
    client.start()
    try:
        async with asyncio.timeout(60):  # a bound for a broken build, not a timing assertion
            await two.wait()
    finally:
        await client.stop()
        await server.close()
    assert calls[0].id != calls[1].id
    assert {(c.direction.value, c.client, c.answered_by) for c in calls} == {
        ("inbound", "+79161234567", "201")
    }
    files = [Path(c.recording or "") for c in calls]
    assert all(f.is_relative_to(tmp_path / "monitor") for f in files)
    assert all(await asyncio.gather(*(asyncio.to_thread(f.is_file) for f in files)))


def test_fresh_ids_keep_the_order_of_the_recorded_ones() -> None:
    events = [
        {"Uniqueid": "pbx-1795330301.9", "Linkedid": "pbx-1795330301.8"},
        {"Uniqueid": "pbx-1795330301.10"},
    ]
    mapping = Renamer().mapping(events)
    new = [mapping[k] for k in ("pbx-1795330301.8", "pbx-1795330301.9", "pbx-1795330301.10")]
    assert [float(n.split("-")[1]) for n in new] == sorted(float(n.split("-")[1]) for n in new)
    assert all(n.startswith("pbx-") for n in new) and len(set(new)) == 3


async def test_the_seed_gives_every_employee_a_working_token_and_password(tmp_path: Path) -> None:
    from adapters.builtin.passwords import verify_password

    people = await seed(tmp_path / "crm.db")
    store = await Store.open(tmp_path / "crm.db")
    try:
        found = [await store.employees.by_token(people[ext].token) for ext, _, _ in EMPLOYEES]
        assert [row["extension"] for row in found if row] == [ext for ext, _, _ in EMPLOYEES]
        for ext, _, _ in EMPLOYEES:
            account = await store.accounts.by_login(people[ext].login)
            assert account is not None and account["extension"] == ext
            assert await verify_password(account["password_hash"], people[ext].password)
    finally:
        await store.close()


def test_a_folder_that_is_not_the_demos_is_never_wiped(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    assert not _fresh_state(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_the_demo_folder_is_wiped_on_start(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    assert _fresh_state(state)
    (state / "old.db").write_text("x")
    assert _fresh_state(state)
    assert sorted(p.name for p in state.iterdir()) == sorted([MARKER, "monitor"])


def test_a_busy_port_is_refused_before_the_banner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`make demo` on a port another program holds: one clear line, no banner, no passwords."""
    import argparse
    import socket

    from connector.commands import demo

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = parser.parse_args(
            ["--dir", str(tmp_path / "demo"), "--port", str(port), "--host", "127.0.0.1"]
        )
        code = demo.main(args)
    out = capsys.readouterr().out
    assert (code, f"cannot listen on 127.0.0.1:{port}" in out, "password" in out) == (2, True, False)
    assert demo.port_in_use("127.0.0.1", port) is None  # free again once its holder closed


def test_the_demo_listens_where_it_is_told() -> None:
    settings = demo_settings(Path("/tmp/x"), 5038, 9000, http_host="0.0.0.0")
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 9000)
