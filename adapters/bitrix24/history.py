"""The end of a call in the portal: `finish` for the responsible, one history row per employee.

Only `finish` writes the call into the CRM (the activity on the client's card), so it runs exactly
once per registration, remembered in the state store: a retried job continues where it stopped.
A finish whose answer was lost is the hard case: the portal did it, we do not know, and the retry
is told "Call is not found" (a finished call has left the active calls). So the intent is stored
before each finish (per call and per transfer leg); "not found" after a finish was sent means done.
Only "not found" for a finish never sent means the portal lost the registration: register afresh.
"""

from __future__ import annotations

import contextlib
from typing import Any

from adapters.bitrix24 import entities, mapping, telephony
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.errors import PortalCallNotFoundError
from adapters.bitrix24.registrar import Registrar
from adapters.bitrix24.settings import Settings
from adapters.bitrix24.telephony import Registration
from adapters.bitrix24.users import Directory
from connector import logs
from connector.calls.model import Call, Leg
from connector.crm import StateStore
from connector.errors import PermanentError

log = logs.get_logger(__name__)


class History:
    """Finishes conversations: main call, transfer legs, stray ring-time registrations."""

    def __init__(
        self,
        client: Bitrix24Client,
        directory: Directory,
        settings: Settings,
        state: StateStore,
        registrar: Registrar,
    ) -> None:
        self.client = client
        self.directory = directory
        self.settings = settings
        self.state = state
        self.registrar = registrar

    async def log_call(self, call: Call) -> None:
        """Finish the call for its responsible, then register and finish the other transfer legs."""
        conversation, record = await self._registration_for(call)
        legs = [(i, leg) for i, leg in mapping.other_legs(call) if not record.legs.get(str(i))]
        first_try = record.finishing is None and not record.leg_finishing and not record.leg_calls
        if not record.finished and legs and first_try:
            # one request for the usual case; a retry goes one by one, item by item
            await self._finish_together(call, conversation, record, legs)
        if not record.finished:
            await self._finish_main(call, conversation, record)
        for index, leg in mapping.other_legs(call):
            if not record.legs.get(str(index)):
                await self._finish_leg(call, conversation, record, index, leg)
        await self._close_strays(call, conversation)

    async def _finish_leg(
        self, call: Call, conversation: str, record: Registration, index: int, leg: Leg
    ) -> None:
        key = str(index)
        user = self.directory.user_or_pbx(leg.extension)
        call_id = record.leg_calls.get(key)
        if call_id is None:
            # a lost register answer is harmless: the portal returns the same CALL_ID to a repeat
            # with the same EXTERNAL_CALL_ID within 30 minutes
            call_id = await self.registrar.register_leg(call, index, user, record.crm)
            record.leg_calls[key] = call_id
            await telephony.save(self.state, conversation, record)
        sent_before = key in record.leg_finishing
        if not sent_before:
            record.leg_finishing.append(key)
            await telephony.save(self.state, conversation, record)
        try:
            await telephony.finish(self.client, self._params(call_id, user, round(leg.talk_seconds), "200"))
        except PortalCallNotFoundError:
            if not sent_before:
                raise
            log.info("bitrix24.finish_answer_was_lost", conversation=conversation, leg=index)
        record.legs[key] = True
        await telephony.save(self.state, conversation, record)

    async def _registration_for(self, call: Call) -> tuple[str, Registration]:
        found = await telephony.load(self.state, (call.id, *call.linkedids))
        if found is not None:
            return found
        record = await self.registrar.register_call(call)
        await telephony.save(self.state, call.id, record)
        return call.id, record

    async def _finish_together(
        self, call: Call, conversation: str, record: Registration, legs: list[tuple[int, Leg]]
    ) -> None:
        """A transferred call's finish and each leg's register + finish as one `batch`: one request
        of the portal's 2 per second instead of 1 + 2 per leg. The intents are stored first, as for
        single finishes; whatever the batch did not settle is then finished one by one."""
        sent_before = record.finishing == record.call_id
        user, params = self._main_params(call, record)
        commands: dict[str, tuple[str, dict[str, Any]]] = {"main": (telephony.FINISH, params)}
        for index, leg in legs:
            leg_user = self.directory.user_or_pbx(leg.extension)
            register = self.registrar.leg_params(call, index, leg_user, record.crm)
            finish = self._params(f"$result[r{index}][CALL_ID]", leg_user, round(leg.talk_seconds), "200")
            commands[f"r{index}"] = (telephony.REGISTER, register)
            commands[f"f{index}"] = (telephony.FINISH, finish)
        record.finishing = record.call_id
        record.leg_finishing.extend(str(i) for i, _ in legs if str(i) not in record.leg_finishing)
        await telephony.save(self.state, conversation, record)
        answers = await self.client.batch(commands)
        for index, _ in legs:
            registered = answers.results.get(f"r{index}")
            if isinstance(registered, dict) and registered.get("CALL_ID"):
                record.leg_calls[str(index)] = str(registered["CALL_ID"])
            if f"f{index}" in answers.results:
                record.legs[str(index)] = True
        if "main" in answers.results:
            record.finished = True
        elif not sent_before and self._not_found(answers.errors.get("main")):
            record.finishing = None  # never finished before: the portal lost it, register afresh
        await telephony.save(self.state, conversation, record)
        if record.finished:
            await self._reassign(record, user)

    @staticmethod
    def _not_found(error: dict[str, Any] | None) -> bool:
        return error is not None and "call is not found" in str(error.get("error_description", "")).lower()

    def _main_params(self, call: Call, record: Registration) -> tuple[str, dict[str, Any]]:
        user = self.directory.user_or_pbx(
            mapping.responsible_extension(call, self.settings.missed_responsible)
        )
        main = mapping.main_leg(call)
        duration = round(main.talk_seconds if main else call.talk_seconds)
        params = self._params(record.call_id, user, duration, mapping.status_code(call))
        params.update(mapping.failed_reason(call))
        return user, params

    async def _reassign(self, record: Registration, user: str) -> None:
        if record.entities and user != record.user_id:
            await entities.reassign(self.client, [(str(k), int(i)) for k, i in record.entities], user)

    async def _finish_main(self, call: Call, conversation: str, record: Registration) -> None:
        user, params = self._main_params(call, record)
        sent_before = record.finishing == record.call_id
        try:
            await self._finish_once(conversation, record, params)
        except PortalCallNotFoundError:
            if sent_before:
                # our earlier finish did it; only its answer was lost
                log.info("bitrix24.finish_answer_was_lost", conversation=conversation)
            else:
                # The portal lost the registration (or never had it): register afresh and finish that.
                log.warning("bitrix24.reregister", conversation=conversation)
                fresh = await self.registrar.register_call(call, external_id=f"{call.id}/re")
                record.call_id, record.crm = fresh.call_id, fresh.crm
                record.entities.extend(e for e in fresh.entities if e not in record.entities)
                await self._finish_once(conversation, record, {**params, "CALL_ID": record.call_id})
        record.finished = True
        await telephony.save(self.state, conversation, record)
        await self._reassign(record, user)

    async def _finish_once(self, conversation: str, record: Registration, params: dict[str, Any]) -> None:
        """Record the intent durably, then send the finish."""
        if record.finishing != record.call_id:
            record.finishing = record.call_id
            await telephony.save(self.state, conversation, record)
        await telephony.finish(self.client, params)

    async def _close_strays(self, call: Call, used: str) -> None:
        """Registrations made at ring time under another linkedid of the conversation: close
        their cards and leave them unfinished (only finish writes history, so none is doubled)."""
        for linkedid in (call.id, *call.linkedids):
            found = await telephony.load(self.state, (linkedid,)) if linkedid != used else None
            if found is None or found[1].finished:
                continue
            stray = found[1]
            with contextlib.suppress(PermanentError):
                await telephony.hide(self.client, stray.call_id, stray.shown)
            stray.finished, stray.shown = True, []
            await telephony.save(self.state, linkedid, stray)

    def _params(self, call_id: str, user: str, duration: int, status: str) -> dict[str, Any]:
        return {
            "CALL_ID": call_id,
            "USER_ID": user,
            "DURATION": duration,
            "STATUS_CODE": status,
            "ADD_TO_CHAT": 1 if self.settings.add_to_chat else 0,
        }
