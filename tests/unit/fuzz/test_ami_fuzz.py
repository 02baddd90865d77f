"""Fuzzing the AMI protocol reader and the call tracker with hypothesis (a few thousand cases).

Recorded captures are mangled (events dropped, duplicated, swapped, mistimed, blanked, cut,
renamed; junk events and garbage bytes spliced in), sent as bytes cut at arbitrary places through
the real reader, and fed to the real tracker. `bench/fuzz.py` runs the same kit over a million
events and prints what it finds per kind of damage.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from bench._fuzzkit import KINDS, Mutation, mutate, read_messages, samples, to_bytes, track
from connector.ami.protocol import parse_message

SAMPLES = samples()
# Damage the tracker must absorb without losing or doubling a call: repeats, reordering of
# neighbours, impossible clocks (1e30, nan, a step of hours) and junk channels.
HARMLESS = ("duplicate", "swap", "time", "garbage")


def cases(count: int) -> settings:
    """`count` reproducible cases, no per-case deadline (the machine is shared)."""
    return settings(
        max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
    )


capture = st.integers(min_value=0, max_value=len(SAMPLES) - 1)
cuts = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=12)


def mutations(kinds: tuple[str, ...]) -> st.SearchStrategy[list[Mutation]]:
    one = st.builds(
        Mutation,
        st.sampled_from(kinds),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=10_000),
    )
    return st.lists(one, max_size=8)


@cases(1000)
@given(index=capture, where=cuts)
def test_the_reader_emits_the_same_messages_however_the_bytes_are_cut(index: int, where: list[int]) -> None:
    data = to_bytes(SAMPLES[index].events)
    whole = read_messages(data, [])
    assert read_messages(data, where) == whole
    assert len(whole) == len(SAMPLES[index].events)


@cases(1500)
@given(index=capture, damage=mutations(KINDS), garbage=st.binary(max_size=64), where=cuts)
def test_no_damage_to_the_stream_stops_the_reader_or_the_tracker(
    index: int, damage: list[Mutation], garbage: bytes, where: list[int]
) -> None:
    sample = SAMPLES[index]
    data = to_bytes(mutate(sample.events, damage))
    at = where[0] % len(data) if where else len(data)
    with capture_logs():
        messages = read_messages(data[:at] + garbage + data[at:], where)
        outcome = track(messages, sample.rules)
    assert outcome.crashes == []
    assert all(isinstance(m, dict) for m in messages)


@cases(1500)
@given(index=capture, damage=mutations(HARMLESS), where=cuts)
def test_repeated_reordered_mistimed_or_junk_events_lose_no_call_and_double_none(
    index: int, damage: list[Mutation], where: list[int]
) -> None:
    sample = SAMPLES[index]
    with capture_logs():
        clean = track(sample.events, sample.rules)
        outcome = track(read_messages(to_bytes(mutate(sample.events, damage)), where), sample.rules)
    assert (outcome.crashes, outcome.lost, outcome.duplicated) == ([], [], [])
    assert outcome.calls >= clean.calls


@cases(300)
@given(raw=st.binary(max_size=512))
def test_any_bytes_parse_to_a_mapping_of_text(raw: bytes) -> None:
    message = parse_message(raw)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in message.items())
