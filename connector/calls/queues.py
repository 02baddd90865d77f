"""Queue events: which queue a call went through. Agents ringing and answering are seen through
the queue's own dials and bridges, so a queue answering the caller is never a human answer.

A queue is reported by its number, the one callers and employees dial. On MikoPBX the
app_queue name is an internal id (`QUEUE-6A1B...`) and the number is a separate extension
whose dialplan runs Queue(); so the number is the configured mapping's when there is one
(`TrackerRules.queues`), else the extension the caller's channel was at when it joined (the
event's `Exten`, when it is a number and not one of the lines), else the app_queue name. The
queue's name comes only from the configuration (`numbering.queues`): AMI never carries it.
"""

from __future__ import annotations

from connector.calls.core import AmiEvent, Tracking, val
from connector.calls.rules import TrackerRules


def queue_number(rules: TrackerRules, queue: str, exten: str) -> str:
    """The number to report for app_queue `queue` joined from dialplan extension `exten`."""
    configured = rules.queue_by_id(queue) or rules.queue_by_id(exten)
    if configured is not None:
        return configured[0]
    if queue.isdigit():
        return queue
    if exten.isdigit() and rules.line_for(exten) is None:
        return exten
    return queue


def on_queue_join(t: Tracking, event: AmiEvent) -> None:
    """QueueCallerJoin: the caller entered a queue (the first one it entered is reported)."""
    channel = t.channel(event)
    queue = val(event, "Queue")
    if channel is None or not queue:
        return
    conv = t.conv_of(channel)
    if conv.queue is None:
        conv.queue = queue_number(t.rules, queue, val(event, "Exten"))
        configured = t.rules.queue_by_id(queue) or t.rules.queue_by_id(conv.queue)
        conv.queue_name = (configured[1] or None) if configured is not None else None
