"""The AMI actions call control and interception send, carried out through ARI's REST calls.

`control: ari` binds an `AriActions` where an `AmiClient` would be (`connector.control.AmiSlot`),
so click-to-call, hang-up, the channel list, parallel interception and the tracker's expiry
check keep one code path and one error family: ARI's failures come back as the AMI errors
`CallControl` already turns into `CallControlError`s (`PbxUnavailableError` when ARI cannot be
reached or answers late, `CallControlError` when it refuses).

| AMI action | ARI |
|---|---|
| CoreShowChannels | GET /channels + GET /bridges (linkedid rebuilt, `core_show_channels`) |
| Originate | POST /channels (endpoint, extension/context/priority, channelId, variables) |
| Hangup | DELETE /channels/{id}?reason_code= (a channel name is looked up first) |
| UserEvent | POST /events/user/{name} (source: the caller's channel; the open socket's app) |
| Getvar | GET /asterisk/variable (dialplan functions such as DEVICE_STATE() too) |
| BlindTransfer | POST /channels (a Local channel into `transfer_context`, see `blind_transfer`) |

Attended transfer has no ARI form outside a Stasis bridge: it is refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import quote

from connector.ami.session import ActionResult
from connector.ari.client import AriAuthError, AriClient, AriConnectionError, AriError, AriRequestError
from connector.errors import AmiActionError, AmiConnectionError

SUCCESS = {"Response": "Success"}
_ORIGINATE_NAMES = (
    ("CallerID", "callerId"),
    ("ChannelId", "channelId"),
    ("OtherChannelId", "otherChannelId"),
)
TRANSFER_CONTEXT = "crm-ari-transfer"  # the dialplan side of a blind transfer (docs/ari.md)


class AriActions:
    """An `ActionSender` (`connector.ami.actions`) backed by ARI's REST interface."""

    def __init__(self, client: AriClient, transfer_context: str = TRANSFER_CONTEXT) -> None:
        self.client = client
        self.transfer_context = transfer_context

    async def send(
        self,
        action: str,
        headers: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        list_end: str | None = None,
        follow_event: str | None = None,
    ) -> ActionResult:
        """Carry out `action` through ARI; AMI's errors for ARI's failures."""
        handler: _Handler | None = _HANDLERS.get(action.lower())
        if handler is None:
            raise AmiActionError(f"{action}: not available through ARI (call_control over ARI)")
        try:
            return await handler(self, dict(headers or {}), within)
        except AriRequestError as exc:
            raise AmiActionError(f"{action}: {exc}") from exc
        except AriAuthError as exc:
            raise AmiConnectionError(f"{action}: {exc}") from exc
        except AriConnectionError as exc:
            raise AmiConnectionError(f"{action}: {exc}") from exc

    async def _channels(self, headers: dict[str, str], within: float | None) -> ActionResult:
        snapshot = await self.client.snapshot(first=False, within=within)
        return ActionResult(SUCCESS, tuple(snapshot.channels))

    async def _originate(self, headers: dict[str, str], within: float | None) -> ActionResult:
        params = {
            "endpoint": headers["Channel"],
            "extension": headers.get("Exten", "s"),
            "context": headers.get("Context", "default"),
            "priority": headers.get("Priority", "1"),
        }
        for ami, ari in _ORIGINATE_NAMES:
            if headers.get(ami):
                params[ari] = headers[ami]
        if headers.get("Timeout"):
            params["timeout"] = str(max(1, int(headers["Timeout"]) // 1000))
        body = {"variables": _variables(headers.get("Variable", ""))}
        channel = await self.client.request("POST", "/channels", params, body, within=within)
        uniqueid = str(channel.get("id", "")) if isinstance(channel, Mapping) else ""
        return ActionResult({**SUCCESS, "Message": "Originate successfully queued", "Uniqueid": uniqueid})

    async def _hangup(self, headers: dict[str, str], within: float | None) -> ActionResult:
        channel = await self._channel_id(headers.get("Channel", ""), within)
        params = {"reason_code": headers.get("Cause", "16")}
        await self.client.request("DELETE", f"/channels/{quote(channel, safe='')}", params, within=within)
        return ActionResult({**SUCCESS, "Message": "Channel Hungup"})

    async def _user_event(self, headers: dict[str, str], within: float | None) -> ActionResult:
        name = headers.pop("UserEvent", "")
        if not self.client.app:
            raise AriConnectionError("UserEvent: ARI's events socket is not open (it names the application)")
        params = {"application": self.client.app}
        source = headers.get("CallerUniqueid") or headers.get("Uniqueid")
        if source:
            params["source"] = f"channel:{source}"
        body = {"variables": headers}
        await self.client.request("POST", f"/events/user/{quote(name, safe='')}", params, body, within=within)
        return ActionResult(SUCCESS)

    async def _getvar(self, headers: dict[str, str], within: float | None) -> ActionResult:
        if headers.get("Channel"):
            raise AriRequestError("Getvar: channel variables need a Stasis channel in ARI", 409)
        variable = headers.get("Variable", "")
        found = await self.client.request("GET", "/asterisk/variable", {"variable": variable}, within=within)
        value = str(found.get("value", "")) if isinstance(found, Mapping) else ""
        return ActionResult({**SUCCESS, "Variable": variable, "Value": value})

    async def _blind_transfer(self, headers: dict[str, str], within: float | None) -> ActionResult:
        """Send the party bridged with `Channel` to `Exten`@`Context`, through the dialplan side.

        ARI moves only channels inside a Stasis application, and a PBX's calls are not; so a
        short-lived Local channel is originated into `transfer_context`, whose dialplan runs
        `BlindTransfer()` on behalf of the transferer (docs/ari.md has the context).
        """
        transferer = headers.get("Channel", "")
        variables = {
            "CRM_TRANSFERER": transferer,
            "CRM_TARGET": headers.get("Exten", ""),
            "CRM_TARGET_CONTEXT": headers.get("Context", ""),
        }
        params = {
            "endpoint": f"Local/transfer@{self.transfer_context}/n",
            "extension": "hangup",
            "context": self.transfer_context,
            "priority": "1",
            "timeout": "5",
        }
        await self.client.request("POST", "/channels", params, {"variables": variables}, within=within)
        return ActionResult({**SUCCESS, "Message": "Transfer queued"})

    async def _channel_id(self, channel: str, within: float | None) -> str:
        """A uniqueid as it is; a channel name (it has a '/') looked up in ARI's list."""
        if "/" not in channel:
            return channel
        channels = await self.client.request("GET", "/channels", within=within)
        for item in channels if isinstance(channels, list) else ():
            if isinstance(item, Mapping) and item.get("name") == channel:
                return str(item.get("id", ""))
        raise AriRequestError(f"no channel {channel}", 404)


def _variables(encoded: str) -> dict[str, str]:
    """AMI's `Variable:` value back into pairs (`ami_values.variables` forbids commas in values)."""
    pairs: dict[str, str] = {}
    for part in filter(None, encoded.split(",")):
        name, _, value = part.partition("=")
        pairs[name] = value
    return pairs


_Handler = Callable[[AriActions, dict[str, str], float | None], Awaitable[ActionResult]]
_HANDLERS: dict[str, _Handler] = {
    "coreshowchannels": AriActions._channels,
    "originate": AriActions._originate,
    "hangup": AriActions._hangup,
    "userevent": AriActions._user_event,
    "getvar": AriActions._getvar,
    "blindtransfer": AriActions._blind_transfer,
}

__all__ = ["AriActions", "AriError"]
