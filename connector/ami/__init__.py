"""AMI: the connection to Asterisk's manager interface (framing, session, self-healing client, actions)."""

from connector.ami.client import AmiClient, AmiStatus, ChannelSnapshot
from connector.ami.protocol import Message
from connector.ami.session import ActionResult

__all__ = ["ActionResult", "AmiClient", "AmiStatus", "ChannelSnapshot", "Message"]
