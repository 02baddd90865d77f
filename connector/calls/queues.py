"""Queue events: which queue a call went through. Agents ringing and answering are seen through
the queue's own dials and bridges, so a queue answering the caller is never a human answer."""

from __future__ import annotations

from connector.calls.core import AmiEvent, Tracking, val


def on_queue_join(t: Tracking, event: AmiEvent) -> None:
    """QueueCallerJoin: the caller entered a queue."""
    channel = t.channel(event)
    queue = val(event, "Queue")
    if channel is not None and queue:
        conv = t.conv_of(channel)
        conv.queue = conv.queue or queue
