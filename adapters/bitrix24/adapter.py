"""The Bitrix24 adapter: calls registered at ring time, finished at the end, recordings attached.

Ring time (live jobs): `register` once per conversation (EXTERNAL_CALL_ID = its id), `show` to
each employee whose phone rings (per-employee mode never / on ring / on answer), `hide` for the
others when one answers. End (log_call job): `finish` for the responsible (longest talker, or
who answered; missed: the configured responsible, else the first who rang); each other transfer
leg is registered and finished too so the history shows who talked. If the ring-time
registration never happened (or was lost), finish registers first. Then attach_recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import AsyncIterator

from aiohttp import web

from adapters.bitrix24 import entities, mapping, recording, telephony
from adapters.bitrix24.cards import Cards
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.history import History
from adapters.bitrix24.registrar import Registrar
from adapters.bitrix24.settings import Settings
from adapters.bitrix24.telephony import Registration, pending_key
from adapters.bitrix24.users import Directory
from connector import logs
from connector.calls.model import Call, Direction, LiveEvent, LiveKind
from connector.crm import Adapter, AdapterContext, Capability, Contact
from connector.errors import AdapterError, PermanentError, TransientError

log = logs.get_logger(__name__)

PENDING_SECONDS = 300.0  # a portal click-to-call not rung by then is forgotten


class Bitrix24Adapter(Adapter):
    """Bitrix24 through telephony.externalCall.* and the CRM methods."""

    capabilities = frozenset(
        {
            Capability.LOOKUP,
            Capability.LOG_CALL,
            Capability.RECORDING,
            Capability.LIVE,
            Capability.CLICK_TO_CALL,
        }
    )

    def __init__(
        self, settings: Settings, context: AdapterContext, client: Bitrix24Client, directory: Directory
    ) -> None:
        super().__init__(context)
        self.settings = settings
        self.client = client
        self.directory = directory
        self.registrar = Registrar(client, directory, settings)
        self.cards = Cards(client, directory)
        self.history = History(client, directory, settings, context.state, self.registrar)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        """The ONEXTERNALCALLSTART webhook (click-to-call from the portal) at `webhook_path` and,
        for an application, its ONAPPINSTALL handler at `install_path`."""
        from adapters.bitrix24 import install, offline, webhook

        app.router.add_routes(webhook.routes(self))
        if self.settings.auth == "oauth":
            app.router.add_routes(install.routes(self))
            if self.settings.portal_events == "offline":
                offline.attach(self, app)  # event.bind/event.offline.get need an application

    @property
    def logs_calls(self) -> bool:
        """Whether calls reach the portal's history: register/finish need an application."""
        return self.settings.upload_history and self.settings.auth == "oauth"

    async def start(self) -> None:
        """Read the users' inner phones and publish the DIDs as external lines."""
        for warning in self.settings.warnings():
            log.warning("bitrix24.webhook_mode", limits=warning)
        await self.directory.refresh()
        if self.settings.outgoing_line_id and self.settings.auth == "oauth":
            try:
                await self._default_outgoing_line(self.settings.outgoing_line_id)
            except AdapterError as exc:
                log.warning("bitrix24.outgoing_line_not_set", error=str(exc))
        if self.settings.lines and self.settings.auth == "oauth":
            try:
                await self._sync_lines()
            except AdapterError as exc:
                # Line names are cosmetic: calls still carry LINE_NUMBER without them.
                log.warning("bitrix24.lines_not_published", error=str(exc))

    async def _default_outgoing_line(self, wanted: str) -> None:
        """Make `wanted` the portal's default outgoing line. voximplant.line.outgoing.set answers 1
        even for an unknown LINE_ID and changes nothing, so the lines are read first and the
        result is read back."""
        if await self.client.call("voximplant.line.outgoing.get") == wanted:
            return
        lines = await self.client.call("voximplant.line.get")
        known = lines if isinstance(lines, dict) else {}
        if wanted not in known:
            log.warning("bitrix24.outgoing_line_unknown", wanted=wanted, lines=sorted(known))
            return
        await self.client.call("voximplant.line.outgoing.set", {"LINE_ID": wanted})
        if await self.client.call("voximplant.line.outgoing.get") != wanted:
            log.warning("bitrix24.outgoing_line_not_set", wanted=wanted)
            return
        log.info("bitrix24.outgoing_line_set", line=wanted, name=known[wanted])

    async def _sync_lines(self) -> None:
        """Add the missing lines, rename the others (add refuses an existing number), and set
        CRM_AUTO_CREATE explicitly: the portal's default (Y) would create leads on its own."""
        existing = await self.client.call("telephony.externalLine.get")
        have = {str(line.get("NUMBER")): line for line in existing or [] if isinstance(line, dict)}
        auto = "Y" if self.settings.line_crm_auto_create else "N"
        for line in self.settings.lines:
            fields = {"NUMBER": line.number, "NAME": line.name, "CRM_AUTO_CREATE": auto}
            current = have.get(line.number)
            if current is None:
                await self.client.call("telephony.externalLine.add", fields)
            elif (str(current.get("NAME") or ""), str(current.get("CRM_AUTO_CREATE") or "")) != (
                line.name,
                auto,
            ):
                await self.client.call("telephony.externalLine.update", fields)

    def wants_live(self, event: LiveEvent) -> bool:
        """Live events matter only when calls are uploaded, and only with a client number."""
        return self.logs_calls and bool(mapping.digits(event.client)) and super().wants_live(event)

    def wants_call(self, call: Call) -> bool:
        """External calls with a number (the portal refuses a call without PHONE_NUMBER for good),
        and only for an application (a webhook's register is refused: WRONG_AUTH_TYPE)."""
        return self.logs_calls and bool(mapping.digits(call.client)) and super().wants_call(call)

    # -- lookups (routing, interception) ------------------------------------------------------

    async def lookup(self, phone: str) -> Contact | None:
        """The caller's CRM party with its responsible user and that user's extension."""
        await self.directory.ensure_fresh()
        found = await entities.lookup(self.client, phone)
        if found is not None and found.responsible_extension is None:
            ext = self.directory.extension_for(found.responsible_user_id)
            found = dataclasses.replace(found, responsible_extension=ext)
        return found

    # -- ring time ------------------------------------------------------------------------------

    async def on_live(self, event: LiveEvent) -> None:
        """Register at the first ring, then show and hide the call card."""
        async with self._locked(event.call_id):
            await self.directory.ensure_fresh()
            record = await self._live_registration(event)
            if record is None or record.finished:
                return
            try:
                await self.cards.react(event, record)
            except PermanentError as exc:
                # A card that did not open is not worth blocking the call's record behind.
                log.warning("bitrix24.card_failed", conversation=event.call_id, error=str(exc))
            await telephony.save(self.context.state, event.call_id, record)

    async def _live_registration(self, event: LiveEvent) -> Registration | None:
        found = await telephony.load(self.context.state, (event.call_id,))
        if found is not None:
            return found[1]
        if event.kind not in (LiveKind.RINGING, LiveKind.ANSWERED):
            return None
        record = await self._adopt_click_to_call(event)
        if record is None:
            try:
                record = await self.registrar.register(
                    conversation=event.call_id,
                    phone=event.client,
                    direction=event.direction,
                    did=event.did,
                    started=mapping.start_date(event.at, self.settings.timezone),
                    extension=event.exten,
                )
            except PermanentError as exc:
                # finish will register on its own; the live part is best effort.
                log.warning("bitrix24.register_failed", conversation=event.call_id, error=str(exc))
                return None
        await telephony.save(self.context.state, event.call_id, record)
        return record

    async def _adopt_click_to_call(self, event: LiveEvent) -> Registration | None:
        if event.direction is not Direction.OUTBOUND or not event.exten:
            return None
        key = pending_key(event.exten, event.client)
        pending = await self.context.state.get(key)
        if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
            return None
        await self.context.state.delete(key)
        return Registration(call_id=str(pending["call_id"]), user_id=str(pending["user_id"]), external=True)

    # -- the end of the call --------------------------------------------------------------------

    async def log_call(self, call: Call) -> None:
        """Finish the call for its responsible, then register and finish the other transfer legs."""
        if not self.logs_calls:
            return
        async with self._locked(call.id):
            await self.directory.ensure_fresh()
            await self.history.log_call(call)

    # -- recordings -------------------------------------------------------------------------------

    async def attach_recording(self, call: Call, path: str) -> None:
        """Attach the recording to the finished call; a retry never finishes the call again."""
        if not (self.logs_calls and self.settings.upload_recordings):
            return
        path = await asyncio.to_thread(converted, path)
        name = recording.upload_name(path)
        found = await telephony.load(self.context.state, (call.id, *call.linkedids))
        if found is None or not found[1].finished:
            raise TransientError("the call is not finished in the portal yet", adapter=self.name)
        try:
            await self._wait_until_stable(path, name)
            async with recording.accepted(path, self.name) as upload:  # mp3/wav, else converted
                await telephony.attach_record(
                    self.client, found[1].call_id, upload, name, self.settings.inline_recording_max_bytes
                )
        except FileNotFoundError as exc:
            # MixMonitor may still be closing the file (or MikoPBX converting it to mp3).
            raise TransientError(f"recording {name} is not there yet", adapter=self.name) from exc
        except PermissionError as exc:
            raise PermanentError(f"recording {name} cannot be read", adapter=self.name) from exc

    async def _wait_until_stable(self, path: str, name: str) -> None:
        """A file written to moments ago may still be growing: upload it on a later try."""
        modified = (await asyncio.to_thread(os.stat, path)).st_mtime
        settle = self.settings.recording_settle_seconds
        if time.time() - modified < settle:
            raise TransientError(
                f"recording {name} is still being written", adapter=self.name, retry_after=settle
            )

    # -- helpers ------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _locked(self, conversation: str) -> AsyncIterator[None]:
        """One job at a time per conversation (the register-once guarantee needs it)."""
        lock, users = self._locks.get(conversation, (asyncio.Lock(), 0))
        self._locks[conversation] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation]
            if users <= 1:
                del self._locks[conversation]
            else:
                self._locks[conversation] = (lock, users - 1)


def converted(path: str) -> str:
    """The recording as it is on disk now: MikoPBX converts MixMonitor's wav to mp3 after the call
    (and may drop the wav), so the announced name is tried with mp3 first, then as announced."""
    stem = os.path.splitext(path)[0]
    for candidate in (stem + ".mp3", path, stem + ".wav"):
        if os.path.isfile(candidate):
            return candidate
    return path
