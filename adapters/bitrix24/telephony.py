"""The `telephony.externalCall.*` methods and what we remember about each registered call.

A conversation's registration (CALL_ID, who saw the card, created entities, what is finished)
is kept durably in the adapter's `StateStore` under `bitrix24:call:<conversation id>`, so a
retried job or a restarted daemon neither registers twice nor finishes twice.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from adapters.bitrix24.client import Bitrix24Client
from connector.crm import StateStore
from connector.errors import PermanentError

CALL_KEY = "bitrix24:call:"
REGISTER = "telephony.externalcall.register"
FINISH = "telephony.externalcall.finish"
PENDING_KEY = "bitrix24:c2c:"  # a portal click-to-call waiting for the PBX call it started


def pending_key(extension: str, phone: str) -> str:
    """Where a portal click-to-call's CALL_ID waits for its first live event."""
    tail = "".join(ch for ch in phone if ch.isdigit())[-10:]
    return f"{PENDING_KEY}{extension}:{tail}"


@dataclass(slots=True)
class Registration:
    """One registered portal call and the progress of its jobs."""

    call_id: str
    user_id: str
    crm: list[Any] | None = None  # [CRM_ENTITY_TYPE, CRM_ENTITY_ID] the portal bound it to
    shown: list[str] = field(default_factory=list)
    answered: str | None = None
    entities: list[list[Any]] = field(default_factory=list)  # [[kind, id]] we created
    external: bool = False  # registered by the portal itself (click-to-call)
    finished: bool = False
    legs: dict[str, bool] = field(default_factory=dict)  # transfer leg index → finished
    # Intent recorded before each finish is sent: after a lost answer the portal says "Call is not
    # found" to the retry (a finished call leaves the active calls), which then means "done".
    finishing: str | None = None  # the CALL_ID a finish was sent for
    leg_calls: dict[str, str] = field(default_factory=dict)  # transfer leg index → its CALL_ID
    leg_finishing: list[str] = field(default_factory=list)  # legs whose finish was sent

    @classmethod
    def from_state(cls, value: Any) -> Registration | None:
        """Rebuild from the stored JSON (None when nothing usable is stored)."""
        if not isinstance(value, dict) or not value.get("call_id"):
            return None
        known = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
        return cls(**known)


async def load(state: StateStore, ids: tuple[str, ...]) -> tuple[str, Registration] | None:
    """The registration stored under the first of `ids` that has one."""
    for conversation in ids:
        record = Registration.from_state(await state.get(CALL_KEY + conversation))
        if record is not None:
            return conversation, record
    return None


async def save(state: StateStore, conversation: str, record: Registration) -> None:
    """Store the registration durably."""
    await state.set(CALL_KEY + conversation, asdict(record))


async def register(client: Bitrix24Client, params: dict[str, Any]) -> tuple[str, list[Any] | None]:
    """telephony.externalcall.register → (CALL_ID, [CRM_ENTITY_TYPE, CRM_ENTITY_ID] or None)."""
    answer = await client.call(REGISTER, params)
    answer = answer if isinstance(answer, dict) else {}
    if not answer.get("CALL_ID"):
        raise PermanentError("register: the portal gave no CALL_ID", adapter="bitrix24")
    crm = [answer["CRM_ENTITY_TYPE"], answer["CRM_ENTITY_ID"]] if answer.get("CRM_ENTITY_ID") else None
    return str(answer["CALL_ID"]), crm


async def show(client: Bitrix24Client, call_id: str, users: list[str]) -> bool:
    """Open the call card for these users; False when the portal no longer knows the call
    (show/hide answer `result: false` with HTTP 200 for an unknown CALL_ID, not an error)."""
    if not users:
        return True
    answer = await client.call("telephony.externalcall.show", {"CALL_ID": call_id, "USER_ID": _ids(users)})
    return answer is not False


async def hide(client: Bitrix24Client, call_id: str, users: list[str]) -> bool:
    """Close the call card for these users; False when the portal no longer knows the call."""
    if not users:
        return True
    answer = await client.call("telephony.externalcall.hide", {"CALL_ID": call_id, "USER_ID": _ids(users)})
    return answer is not False


async def finish(client: Bitrix24Client, params: dict[str, Any]) -> None:
    """telephony.externalcall.finish: only this creates the call's activity in the CRM."""
    await client.call(FINISH, params)


async def attach_record(client: Bitrix24Client, call_id: str, path: str, name: str, inline_max: int) -> None:
    """Attach the recording: inline base64 for small files, the uploadUrl flow for large ones."""
    size = await asyncio.to_thread(os.path.getsize, path)
    if size <= inline_max:
        content = await asyncio.to_thread(_read_base64, path)
        await client.call(
            "telephony.externalCall.attachRecord",
            {"CALL_ID": call_id, "FILENAME": name, "FILE_CONTENT": content},
        )
        return
    answer = await client.call("telephony.externalCall.attachRecord", {"CALL_ID": call_id, "FILENAME": name})
    answer = answer if isinstance(answer, dict) else {}
    url, field_name = answer.get("uploadUrl"), answer.get("fieldName") or "file"
    if not url:
        raise PermanentError("attachRecord: the portal gave no uploadUrl", adapter="bitrix24")
    data = await asyncio.to_thread(_read_bytes, path)
    await client.upload(str(url), str(field_name), name, data)


def _ids(users: list[str]) -> list[int] | int:
    ids = [int(u) for u in users]
    return ids[0] if len(ids) == 1 else ids


def _read_base64(path: str) -> str:
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode("ascii")


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
