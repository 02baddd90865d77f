"""One logged-in AMI connection: login, event filters, actions matched by ActionID.

A session never reconnects: when its socket ends, `closed` resolves and every action still
waiting fails with `AmiConnectionError`; the client (`connector.ami.client`) opens a new one.
Nothing is ever queued for replay on the next session (panoramisk re-sends pending actions after
a reconnect, which could originate a call twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from connector import logs
from connector.ami.protocol import AmiProtocol, Message, encode_action
from connector.errors import AmiActionError, AmiAuthError, AmiConnectionError

log = logs.get_logger(__name__)

MAX_IN_FLIGHT = 256
"""Actions waiting for an answer at once; more means something upstream is looping."""
MAX_LIST_ITEMS = 100_000
"""Events one list action (CoreShowChannels) may collect before it is refused."""
_session_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """An action's response, the events a list action collected, and an optional follow-up event."""

    response: Message
    events: tuple[Message, ...] = ()
    follow_up: asyncio.Future[Message] | None = None

    @property
    def message(self) -> str:
        """Asterisk's human-readable `Message` header."""
        return self.response.get("Message", "")


@dataclass(slots=True)
class _Pending:
    name: str
    future: asyncio.Future[ActionResult]
    list_end: str | None
    follow_event: str | None
    response: Message | None = None
    events: list[Message] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Login:
    """What a session needs to log in: credentials, the event mask and the event filters."""

    username: str
    secret: str
    events: Sequence[str]
    filters: Sequence[str] = ()


class AmiSession:
    """A connected, logged-in manager session; build one with `AmiSession.open`."""

    def __init__(self, on_event: Callable[[Message], None], action_timeout: float) -> None:
        self._on_event = on_event
        self.action_timeout = action_timeout
        self._pending: dict[str, _Pending] = {}
        self._followers: dict[str, tuple[str, asyncio.Future[Message]]] = {}
        self._ids = itertools.count(1)
        self._prefix = f"crm-{next(_session_ids)}"
        self.protocol = AmiProtocol(self._dispatch)
        self.protocol.closed.add_done_callback(self._fail_all)
        self.version = ""

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        login: Login,
        on_event: Callable[[Message], None],
        *,
        connect_timeout: float,
        action_timeout: float,
    ) -> AmiSession:
        """Connect, wait for the banner, log in and install the filters, all within the timeouts."""
        session = cls(on_event, action_timeout)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                await loop.create_connection(lambda: session.protocol, host, port)
                session.version = await session.protocol.banner
        except (OSError, TimeoutError) as exc:
            session.abort("connect failed")
            raise AmiConnectionError(f"cannot connect to AMI at {host}:{port}: {_describe(exc)}") from exc
        try:
            await session._login(login)
        except BaseException:
            session.abort("login failed")
            raise
        return session

    @property
    def closed(self) -> asyncio.Future[str]:
        """Resolves with the reason when the connection ends."""
        return self.protocol.closed

    async def request(
        self,
        action: str,
        headers: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        list_end: str | None = None,
        follow_event: str | None = None,
    ) -> ActionResult:
        """Send `action` and wait for its answer; raise `AmiActionError` on refusal or timeout.

        `list_end` names the event that ends a list action's items (e.g. CoreShowChannelsComplete);
        `follow_event` names an event carrying the same ActionID that comes later (OriginateResponse):
        it resolves `ActionResult.follow_up`.
        """
        if self.closed.done():
            raise AmiConnectionError("the AMI connection is closed")
        if len(self._pending) >= MAX_IN_FLIGHT:
            raise AmiActionError(f"{action}: too many AMI actions waiting for an answer")
        action_id = f"{self._prefix}-{next(self._ids)}"
        pending = _Pending(action, asyncio.get_running_loop().create_future(), list_end, follow_event)
        self._pending[action_id] = pending
        try:
            self.protocol.write(encode_action({"Action": action, "ActionID": action_id, **(headers or {})}))
            async with asyncio.timeout(self.action_timeout if within is None else within):
                return await pending.future
        except TimeoutError:
            raise AmiActionError(f"{action}: no answer from Asterisk in time") from None
        except ConnectionError as exc:
            raise AmiConnectionError(f"{action}: {exc}") from exc
        finally:
            self._pending.pop(action_id, None)

    def abort(self, reason: str) -> None:
        """Drop the connection at once (the peer may be frozen)."""
        self.protocol.abort(reason)

    async def close(self, within: float = 1.0) -> None:
        """Log off politely if Asterisk answers quickly, then close."""
        if not self.closed.done():
            with contextlib.suppress(AmiActionError, AmiConnectionError):
                await self.request("Logoff", within=within)
        self.protocol.close()

    # -- login ---------------------------------------------------------------------------------

    async def _login(self, login: Login) -> None:
        mask = ",".join(login.events) if login.events else "off"
        try:
            await self.request("Login", {"Username": login.username, "Secret": login.secret, "Events": mask})
        except AmiActionError as exc:
            if "authentication failed" in str(exc).lower():
                raise AmiAuthError(
                    f"Asterisk refused the manager login of {login.username!r} (Authentication failed): "
                    "check ami.username and ami.secret, and the user's permit/deny in manager.conf"
                ) from None
            # e.g. "Asterisk is shutting down": not the credentials' fault, reconnect as usual
            raise AmiConnectionError(f"login not possible now: {exc}") from None
        for expression in login.filters:
            try:
                await self.request("Filter", {"Operation": "Add", "Filter": expression})
            except AmiActionError as exc:
                # Without the system privilege the Filter action is refused: run unfiltered.
                log.warning("ami.filter_refused", filter=expression, reason=str(exc))
                return

    # -- incoming messages ---------------------------------------------------------------------

    def _dispatch(self, message: Message) -> None:
        action_id = message.get("ActionID", "")
        if "Event" not in message:
            # events may carry a Response header too (OriginateResponse): test Event first
            if "Response" in message:
                self._on_response(action_id, message)
            return
        pending = self._pending.get(action_id) if action_id else None
        if pending is not None and pending.list_end is not None:
            self._on_list_item(pending, message)
            return
        follower = self._followers.get(action_id) if action_id else None
        if follower is not None and follower[0] == message["Event"]:
            del self._followers[action_id]
            if not follower[1].done():
                follower[1].set_result(message)
        try:
            self._on_event(message)
        except Exception:
            # The isolation boundary for the tracker: log the event, keep the connection.
            log.exception("ami.event_handler_failed", ami_event=message)

    def _on_response(self, action_id: str, message: Message) -> None:
        pending = self._pending.get(action_id)
        if pending is None or pending.future.done():
            return  # an answer after its timeout: nobody waits for it any more
        ok = message.get("Response", "").lower() in ("success", "follows", "goodbye")
        if not ok:
            reason = message.get("Message") or message.get("Response", "")
            pending.future.set_exception(AmiActionError(f"{pending.name} refused by Asterisk: {reason}"))
            return
        if pending.list_end is not None and message.get("EventList", "").lower() == "start":
            pending.response = message  # items and the closing event follow
            return
        follow_up = self._follow(action_id, pending.follow_event)
        pending.future.set_result(ActionResult(message, follow_up=follow_up))

    def _on_list_item(self, pending: _Pending, message: Message) -> None:
        if message["Event"] == pending.list_end or message.get("EventList", "").lower() == "complete":
            if not pending.future.done():
                pending.future.set_result(ActionResult(pending.response or message, tuple(pending.events)))
            return
        if len(pending.events) >= MAX_LIST_ITEMS:
            if not pending.future.done():
                pending.future.set_exception(AmiActionError(f"{pending.name}: too many items"))
            return
        pending.events.append(message)

    def _follow(self, action_id: str, event: str | None) -> asyncio.Future[Message] | None:
        if event is None:
            return None
        if len(self._followers) >= MAX_IN_FLIGHT:
            self._followers.pop(next(iter(self._followers)))[1].cancel()  # oldest first
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._followers[action_id] = (event, future)
        future.add_done_callback(lambda _: self._forget_follower(action_id, future))
        return future

    def _forget_follower(self, action_id: str, future: asyncio.Future[Message]) -> None:
        current = self._followers.get(action_id)
        if current is not None and current[1] is future:
            del self._followers[action_id]

    def _fail_all(self, closed: asyncio.Future[str]) -> None:
        reason = closed.result()
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(AmiConnectionError(f"{pending.name}: {reason}"))
        for _, future in list(self._followers.values()):
            if not future.done():
                future.set_exception(AmiConnectionError(reason))
                future.exception()  # a caller may no longer wait for it; do not warn about it
        self._followers.clear()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
