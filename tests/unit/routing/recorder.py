"""A small real `ActionSender` for unit tests: records the actions, answers like Asterisk would."""

from __future__ import annotations

from collections.abc import Mapping

from connector.ami.session import ActionResult
from connector.errors import AmiActionError


class RecordingPbx:
    """Answers every action with Success; CoreShowChannels lists `channels`; Getvar `variables`."""

    def __init__(self, channels: list[dict[str, str]] | None = None) -> None:
        self.channels = channels or []
        self.variables: dict[str, str] = {}
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.refuse: dict[str, str] = {}  # action → Asterisk's refusal message

    async def send(
        self,
        action: str,
        headers: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        list_end: str | None = None,
        follow_event: str | None = None,
    ) -> ActionResult:
        self.sent.append((action, dict(headers or {})))
        if action in self.refuse:
            raise AmiActionError(f"{action} refused by Asterisk: {self.refuse[action]}")
        if action == "CoreShowChannels":
            return ActionResult({"Response": "Success"}, tuple(dict(c) for c in self.channels))
        if action == "Getvar":
            name = (headers or {}).get("Variable", "")
            return ActionResult({"Response": "Success", "Value": self.variables.get(name, "")})
        return ActionResult({"Response": "Success"})

    def actions(self) -> list[str]:
        """The names of the actions sent, in order."""
        return [name for name, _ in self.sent]


def channel(name: str, uniqueid: str, linkedid: str, state: str = "Up", bridge: str = "") -> dict[str, str]:
    """A CoreShowChannel item."""
    return {
        "Event": "CoreShowChannel",
        "Channel": name,
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
        "ChannelStateDesc": state,
        "BridgeId": bridge,
    }
