"""What the store says after a write commits, for whoever keeps pages live (the activity watch).

The store knows nothing of browsers: it calls `call_filed` when a call is filed and the REST layer
calls `poke` after any change it made; listeners registered with `listen` hear both. A listener
must not block or raise (it only schedules work).
"""

from __future__ import annotations

from collections.abc import Callable

from connector import logs

log = logs.get_logger(__name__)

Listener = Callable[[str | None], None]  # a filed call's id, or None for "something else changed"


class Changes:
    """A tiny fan-out of "the CRM's data changed" signals."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Hear every signal until the returned function is called."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def call_filed(self, call_id: str) -> None:
        """A call was filed (or filed again, after a redelivery)."""
        self._tell(call_id)

    def poke(self) -> None:
        """Something was written: a comment, a deal, a task, a card."""
        self._tell(None)

    def _tell(self, what: str | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(what)
            except Exception:  # isolation: a listener's bug must not fail the write that happened
                log.exception("changes.listener_failed")
