"""How a conversation becomes a portal call: entities for the caller, then `register`.

Used at ring time (from a live event) and at the end (from the finished `Call`) when the ring-time
registration never happened, plus the registrations of transfer legs.
"""

from __future__ import annotations

from typing import Any

from adapters.bitrix24 import entities, mapping, telephony
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.settings import Settings
from adapters.bitrix24.telephony import Registration
from adapters.bitrix24.users import Directory
from connector.calls.model import Call, Direction


class Registrar:
    """Registers calls (once per conversation; EXTERNAL_CALL_ID = the conversation id)."""

    def __init__(self, client: Bitrix24Client, directory: Directory, settings: Settings) -> None:
        self.client = client
        self.directory = directory
        self.settings = settings

    async def register(
        self,
        *,
        conversation: str,
        phone: str,
        direction: Direction,
        did: str | None,
        started: str,
        extension: str | None,
        redirected: bool = False,
        external_id: str | None = None,
    ) -> Registration:
        """Create the caller's entities if the rules say so, then register the call for `extension`."""
        user = self.directory.user_or_pbx(extension)
        rules = self.settings.entities
        by_portal = rules.by == "portal" and entities.wants_entities(rules, direction, phone)
        created = entities.Created()
        if rules.by == "connector":
            created = await entities.ensure_entities(self.client, rules, phone, direction, user)
        params = self._params(phone, direction, did, started, redirected)
        params.update(USER_ID=user, EXTERNAL_CALL_ID=external_id or conversation)
        # The portal's own creation follows its CRM mode; finish makes the finisher responsible.
        params["CRM_CREATE"] = 1 if by_portal else 0
        if created.bind is not None:
            params["CRM_ENTITY_TYPE"], params["CRM_ENTITY_ID"] = created.bind
        call_id, crm = await telephony.register(self.client, params)
        return Registration(
            call_id=call_id, user_id=user, crm=crm, entities=[list(e) for e in created.entities]
        )

    async def register_call(self, call: Call, external_id: str | None = None) -> Registration:
        """Register a finished call that was not registered at ring time."""
        return await self.register(
            conversation=call.id,
            phone=call.client,
            direction=call.direction,
            did=call.did,
            started=mapping.start_date(call.started_at, self.settings.timezone),
            extension=call.rang[0] if call.rang else call.answered_by,
            redirected=bool(call.transfers) and call.direction is Direction.INBOUND,
            external_id=external_id,
        )

    async def register_leg(self, call: Call, index: int, user: str, crm: list[Any] | None) -> str:
        """Register transfer leg `index` of `call` for `user`, bound like the main call; its CALL_ID."""
        call_id, _ = await telephony.register(self.client, self.leg_params(call, index, user, crm))
        return call_id

    def leg_params(self, call: Call, index: int, user: str, crm: list[Any] | None) -> dict[str, Any]:
        """register's parameters for transfer leg `index` (EXTERNAL_CALL_ID `<conversation>/leg<n>`)."""
        started = mapping.start_date(call.legs[index].answered_at, self.settings.timezone)
        params = self._params(call.client, call.direction, call.did, started, redirected=True)
        params.update(USER_ID=user, EXTERNAL_CALL_ID=f"{call.id}/leg{index}", CRM_CREATE=0)
        if crm:
            params["CRM_ENTITY_TYPE"], params["CRM_ENTITY_ID"] = crm
        return params

    def _params(
        self, phone: str, direction: Direction, did: str | None, started: str, redirected: bool
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "PHONE_NUMBER": mapping.portal_phone(phone),
            "TYPE": mapping.call_type(direction, did, self.settings.callback_lines, redirected),
            "CALL_START_DATE": started,
            "SHOW": 0,  # cards are opened per employee with show/hide
            "ADD_TO_CHAT": 1 if self.settings.add_to_chat else 0,  # register's own; defaults to 1
        }
        if did:
            params["LINE_NUMBER"] = did
        return params
