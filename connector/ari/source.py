"""ARI as the tracker's event source: the client's events, translated, into the call feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.ami.client import ChannelSnapshot
from connector.ari.client import AriClient, Json
from connector.ari.settings import AriSettings
from connector.ari.translate import AmiEvent, Translator


class AriSource:
    """Translates ARI events for the tracker, releases held ones when the socket goes quiet,
    and seeds the translator with the linkedids the tracker adopted at each resync."""

    def __init__(
        self,
        settings: AriSettings,
        on_event: Callable[[AmiEvent], None],
        on_session: Callable[[ChannelSnapshot], Any],
    ) -> None:
        self.translator = Translator()
        self._forward = on_event
        self._resync = on_session
        self.client = AriClient(settings, self._event, on_session=self._session, on_idle=self._idle)

    def _event(self, event: Json) -> None:
        for item in self.translator(event):
            self._forward(item)

    def _idle(self) -> None:
        for item in self.translator.flush():
            self._forward(item)

    async def _session(self, snapshot: ChannelSnapshot) -> None:
        self._idle()
        for item in snapshot.channels:
            self.translator.seed(str(item.get("Uniqueid", "")), str(item.get("Linkedid", "")))
        await self._resync(snapshot)
