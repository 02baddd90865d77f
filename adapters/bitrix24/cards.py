"""The call card (screen pop): `show` to employees as their phones ring, `hide` for the others.

Per employee the card opens never, on ring, or on answer. When someone answers (or the client is
transferred), every other open card is closed; `finish` closes the rest.
"""

from __future__ import annotations

from adapters.bitrix24 import telephony
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.telephony import Registration
from adapters.bitrix24.users import Directory
from connector.calls.model import LiveEvent, LiveKind


class Cards:
    """Opens and closes call cards; `Registration.shown` remembers who has one open."""

    def __init__(self, client: Bitrix24Client, directory: Directory) -> None:
        self.client = client
        self.directory = directory

    async def react(self, event: LiveEvent, record: Registration) -> None:
        """Show and hide cards for one live event of a registered call."""
        user = self.directory.user_for(event.exten)
        mode = self.directory.open_card(event.exten or "")
        if event.kind is LiveKind.RINGING:
            if user and mode == "on_ring":
                await self._show(record, user)
        elif event.kind in (LiveKind.ANSWERED, LiveKind.TRANSFERRED):
            if event.kind is LiveKind.ANSWERED:
                record.answered = user
            if user and mode != "never":
                await self._show(record, user)
            await self._hide_others(record, keep=user)

    async def _show(self, record: Registration, user: str) -> None:
        if user not in record.shown:
            await telephony.show(self.client, record.call_id, [user])
            record.shown.append(user)

    async def _hide_others(self, record: Registration, keep: str | None) -> None:
        others = [u for u in record.shown if u != keep]
        await telephony.hide(self.client, record.call_id, others)
        record.shown = [u for u in record.shown if u == keep]
