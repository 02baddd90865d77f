"""Who is talking to the client right now: a walk over bridges and Local pairs.

Media flows between channels in one bridge and between the two halves of a Local pair, so the
employees talking to the client are the employee channels reachable from the client's channel
along those links; an outside party dialled as an employee's forwarding (its mobile) talks as
that employee. A queue, an IVR or a ringing phone is not in a bridge with the client, so it
never counts as a human answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from connector.calls.state import Channel, Conversation, Kind, Leg


def reachable(
    start: str,
    channels: Mapping[str, Channel],
    bridges: Mapping[str, set[str]],
    follow_dials: bool = False,
    skip: Collection[str] = (),
) -> Iterator[Channel]:
    """Channels linked to `start` (not itself) by bridges, Local pairs and, if asked, dials;
    the channels in `skip` are neither yielded nor crossed."""
    seen = {start, *skip}
    stack = [start]
    while stack:
        current = channels.get(stack.pop())
        if current is None:
            continue
        linked: list[str] = []
        if current.bridge is not None:
            linked.extend(bridges.get(current.bridge, ()))
        if current.peer is not None:
            linked.append(current.peer)
        if follow_dials:
            linked.extend(current.dials)
        for uid in linked:
            if uid not in seen and uid in channels:
                seen.add(uid)
                stack.append(uid)
                yield channels[uid]


def talking(
    conv: Conversation, channels: Mapping[str, Channel], bridges: Mapping[str, set[str]]
) -> dict[str, str]:
    """Extension → uniqueid of the employees connected to the client now."""
    client = conv.client_uid
    if client is None or client not in channels:
        return {}
    self_ext = channels[client].ext
    found: dict[str, str] = {}
    for channel in reachable(client, channels, bridges):
        ext = channel.ext if channel.kind is Kind.EMPLOYEE else channel.forward_of
        if ext and ext != self_ext:
            found.setdefault(ext, channel.uniqueid)
    return found


def update(conv: Conversation, now_talking: Mapping[str, str], now: float) -> list[str]:
    """Close the legs of employees no longer talking, open legs for new ones; the new extensions."""
    opened: list[str] = []
    still = conv.open_legs()
    for ext, leg in still.items():
        if ext not in now_talking:
            leg.end = now
    for ext in now_talking:
        if ext not in still:
            conv.legs.append(Leg(ext, now))
            opened.append(ext)
    return opened


def employee_behind(
    start: str, channels: Mapping[str, Channel], bridges: Mapping[str, set[str]], exclude: str | None
) -> str | None:
    """The first employee extension reachable from `start`, dials included (transfer targets).

    A Local half is looked through to its far side: the search does not go back through the
    bridge the half itself is in, because that bridge holds the near party (after an attended
    transfer's merge, the transferee: an employee too in an internal call).
    """
    first = channels.get(start)
    if first is None:
        return None
    if first.kind is Kind.EMPLOYEE and first.ext != exclude:
        return first.ext
    near: set[str] = set()
    if first.kind is Kind.LOCAL and first.peer is not None and first.bridge is not None:
        near = bridges.get(first.bridge, set()) - {start}
    for channel in reachable(start, channels, bridges, follow_dials=True, skip=near):
        if channel.kind is Kind.EMPLOYEE and channel.ext != exclude:
            return channel.ext
    return None
